// A platform that serves many projects from one app: the project is the first label of the host name
// (acme.apps.example.com → acme), each project has its own anon keys, and an admin token is an admin of the
// project named in its `project` claim only. One store (one pool or client) serves every project.
// Run with: npx tsx examples/multi-tenant.ts
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import { createSigner } from 'fast-jwt'
import anonKey, { memoryStore, verifyAnonKey, type AnonKeyStore } from '../lib/index.js'
import { closeOnSignals, jwtSecretFromEnv, listen, portFromEnv, production } from './dev-admin.js'

/** The suffix under which every project gets a subdomain. */
export const PLATFORM_DOMAIN = 'apps.example.com'

const PROJECT_ID = /^[a-z0-9-]{1,40}$/

/**
 * The project a request names: the subdomain of PLATFORM_DOMAIN, validated here so that junk never reaches the
 * store (a name outside the pattern is no project). Synchronous and cheap: it runs on every request.
 */
export function projectOf (request: FastifyRequest): string | null {
  const host = request.hostname.toLowerCase() // the Host header without its port
  if (!host.endsWith(`.${PLATFORM_DOMAIN}`)) return null
  const project = host.slice(0, -PLATFORM_DOMAIN.length - 1)
  return PROJECT_ID.test(project) ? project : null
}

/** An admin of the request's project: a project_admin token whose `project` claim names it. */
export function isProjectAdmin (payload: any, request: FastifyRequest): boolean {
  return payload?.role === 'project_admin' && payload.project === projectOf(request)
}

export async function build (jwtSecret: string, store: AnonKeyStore = memoryStore()): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(anonKey, { jwt: { secret: jwtSecret }, store, tenant: projectOf, isAdmin: isProjectAdmin })
  app.get('/todos', { onRequest: verifyAnonKey }, async (request) => ({ project: request.anonKey?.tenant, todos: [] }))
  await app.ready()
  return app
}

async function main (): Promise<void> {
  const jwtSecret = jwtSecretFromEnv()
  const app = await build(jwtSecret)
  const base = await listen(app, portFromEnv(3000))
  closeOnSignals(app)
  // Provisioning a project from code, as a signup flow would:
  const { anonKey: acmeKey } = await app.anonKey.forTenant('acme').initialize()
  console.log(`listening on ${base}; project acme provisioned`)
  const port = new URL(base).port
  console.log(`
  curl -s http://127.0.0.1:${port}/todos -H "Host: acme.${PLATFORM_DOMAIN}" -H "Authorization: Bearer ${acmeKey}"     # 200
  curl -s http://127.0.0.1:${port}/todos -H "Host: globex.${PLATFORM_DOMAIN}" -H "Authorization: Bearer ${acmeKey}"   # 401: not globex's key`)
  if (!production) {
    const token = createSigner({ key: jwtSecret, expiresIn: 60 * 60 * 1000 })({ role: 'project_admin', sub: 'dev-admin', project: 'acme' })
    console.log(`  export TOKEN=${token}
  curl -s http://127.0.0.1:${port}/api/secrets/anon-keys -H "Host: acme.${PLATFORM_DOMAIN}" -H "Authorization: Bearer $TOKEN"     # acme's keys
  curl -s http://127.0.0.1:${port}/api/secrets/anon-keys -H "Host: globex.${PLATFORM_DOMAIN}" -H "Authorization: Bearer $TOKEN"   # 403
`)
  }
}

if (require.main === module) main()
