import Fastify, { type FastifyInstance } from 'fastify'
import { createSigner } from 'fast-jwt'
import anonKey, { type FastifyAnonKeyOptions } from '../../lib/index.js'

export const JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256'

const sign = createSigner({ key: JWT_SECRET })

/** A signed admin JWT (role project_admin) unless the payload says otherwise. */
export function adminToken (payload: Record<string, unknown> = {}): string {
  return sign({ role: 'project_admin', sub: 'admin-1', ...payload })
}

export function adminHeaders (payload?: Record<string, unknown>): Record<string, string> {
  return { authorization: `Bearer ${adminToken(payload)}` }
}

export function bearer (key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` }
}

/** An app with the plugin registered and a route /data guarded by verifyAnonKey. Not ready yet. */
export function buildApp (options: FastifyAnonKeyOptions = {}): FastifyInstance {
  const app = Fastify()
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, ...options })
  app.register(async (guarded) => {
    guarded.addHook('onRequest', guarded.verifyAnonKey)
    guarded.get('/data', async (request) => ({ anonKey: request.anonKey }))
  })
  return app
}

/** buildApp, made ready, closed when the test ends. */
export async function startApp (t: { teardown: (fn: () => unknown) => void }, options: FastifyAnonKeyOptions = {}): Promise<FastifyInstance> {
  const app = buildApp(options)
  t.teardown(() => app.close())
  await app.ready()
  return app
}

export async function currentKey (app: FastifyInstance): Promise<string> {
  const response = await app.inject({ url: '/api/metadata/anon-key', headers: adminHeaders() })
  return response.json().anonKey
}

export async function rotate (app: FastifyInstance, body?: unknown) {
  return app.inject({
    method: 'POST',
    url: '/api/secrets/anon-key/rotate',
    headers: { ...adminHeaders(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    payload: body === undefined ? undefined : JSON.stringify(body)
  })
}
