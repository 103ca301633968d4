import Fastify, { type FastifyInstance } from 'fastify'
import { createSigner } from 'fast-jwt'
import type { Test } from 'tap'
import { MIRROR } from '../../lib/keys/api.js'
import type { Mirror } from '../../lib/keys/mirror.js'
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

export async function listPrevious (app: FastifyInstance): Promise<Array<{ fingerprint: string, rotatedAt: string, expiresAt: string }>> {
  const response = await app.inject({ url: '/api/secrets/anon-key/previous', headers: adminHeaders() })
  return response.json().previousKeys
}

/** DELETE /previous (all) or /previous/:fingerprint (one). */
export async function revoke (app: FastifyInstance, fingerprint?: string) {
  return app.inject({
    method: 'DELETE',
    url: '/api/secrets/anon-key/previous' + (fingerprint === undefined ? '' : `/${fingerprint}`),
    headers: adminHeaders()
  })
}

/** GET /data (guarded by verifyAnonKey) with this anon key. */
export async function useKey (app: FastifyInstance, key: string) {
  return app.inject({ url: '/data', headers: bearer(key) })
}

/**
 * Asserts that a response is an error in the contract's format, with this status and code. The messages say
 * what a client would have received instead.
 */
export function assertError (
  t: Pick<Test, 'equal' | 'type' | 'same'>,
  response: { statusCode: number, body: string },
  statusCode: number,
  code: string
): void {
  let body: any
  try {
    body = JSON.parse(response.body)
  } catch {
    body = { unparsable: response.body }
  }
  const seen = `client got ${response.statusCode} ${response.body}`
  t.equal(response.statusCode, statusCode, `HTTP status should be ${statusCode}; ${seen}`)
  t.equal(body.error, code, `error code should be ${code}; ${seen}`)
  t.equal(body.statusCode, statusCode, `body.statusCode should equal the HTTP status; ${seen}`)
  t.type(body.message, 'string', `body.message should be a string; ${seen}`)
  t.type(body.nextActions, 'string', `body.nextActions should be a string; ${seen}`)
  t.same(Object.keys(body).sort(), ['error', 'message', 'nextActions', 'statusCode'], `body should hold exactly error, message, statusCode, nextActions; ${seen}`)
}

/** The plugin's internals behind `app.anonKey` (cache, refresh, flushUsage): off its public type, for tests only. */
export function internalsOf (app: FastifyInstance): Mirror {
  return (app.anonKey as unknown as { [MIRROR]: Mirror })[MIRROR]
}
