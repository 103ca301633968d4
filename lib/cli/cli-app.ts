import Fastify, { type FastifyInstance } from 'fastify'
import { fastifyAnonKey } from '../index.js'
import type { AnonKeyStore } from '../stores/interface.js'
import { CONNECT_TIMEOUT_MS } from './open-store.js'

/**
 * The plugin on a Fastify instance for the CLI, which never listens: `autoInitialize: false` (the CLI never makes a
 * key), an `authorize` that refuses every admin request (none is ever served, and none could pass), and tenant mode
 * when the CLI acts on a tenant (`forTenant(id)` needs it; no request names a tenant). Not ready yet.
 */
export function cliApp (store: AnonKeyStore, tenant: string | null): FastifyInstance {
  const app = Fastify({ logger: false })
  const tenantMode = tenant === null ? {} : { tenant: () => null }
  app.register(fastifyAnonKey, { store, autoInitialize: false, authorize: () => false, storeTimeoutMs: CONNECT_TIMEOUT_MS, ...tenantMode })
  return app
}
