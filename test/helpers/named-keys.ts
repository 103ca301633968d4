import type { FastifyInstance } from 'fastify'
import { adminHeaders } from './app.js'

const BASE = '/api/secrets/anon-keys'

/** An admin request to the named-key routes: `path` after /api/secrets/anon-keys, a JSON body if given. */
export async function keysRequest (app: FastifyInstance, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path = '', body?: unknown, headers: Record<string, string> = adminHeaders()) {
  return app.inject({
    method,
    url: BASE + path,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    payload: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
  })
}

/** POST /api/secrets/anon-keys, resolving to the new key's AnonKeyInfo; throws unless 201. */
export async function createNamedKey (app: FastifyInstance, body: Record<string, unknown>, headers?: Record<string, string>) {
  const response = await keysRequest(app, 'POST', '', body, headers)
  if (response.statusCode !== 201) throw new Error(`creating ${JSON.stringify(body)} answered ${response.statusCode} ${response.body}`)
  return response.json()
}

/** GET /data (guarded by verifyAnonKey) with this key and these other headers (Origin, Referer). */
export async function useKeyFrom (app: FastifyInstance, key: string, headers: Record<string, string> = {}) {
  return app.inject({ url: '/data', headers: { authorization: `Bearer ${key}`, ...headers } })
}
