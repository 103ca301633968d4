// Issue 9, against the packed package: a key function as the admin JWT key, garbage tokens, a deny-list, an
// async listener that rejects, a host's 429, a trailing-slash revoke-all and a deep body. Any crash or
// unhandled rejection fails the check.
import Fastify from 'fastify'
import anonKey from 'fastify-anon-key'
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'

process.on('unhandledRejection', (error) => { console.error('unhandled rejection', error); process.exit(1) })

const secret = 'package-check-secret-long-enough-for-hs256'
const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url')
function sign (payload) {
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}`
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`
}
const admin = { authorization: `Bearer ${sign({ role: 'project_admin', sub: 'ops', jti: 'ok' })}` }
const denied = { authorization: `Bearer ${sign({ role: 'project_admin', jti: 'revoked' })}` }

const app = Fastify({ routerOptions: { ignoreTrailingSlash: true } })
app.addHook('onRequest', async (request) => {
  if (request.headers['x-maintenance'] === '1') throw Object.assign(new Error('Too many requests'), { statusCode: 429, headers: { 'retry-after': '7' } })
})
await app.register(anonKey, { jwt: { secret: async () => secret, trusted: async (_request, token) => token.jti !== 'revoked' }, bodyLimit: 64 * 1024 })
await app.ready()
app.anonKey.on('rotated', async () => { throw new Error('audit sink down') })

for (const token of ['garbage', '..', `${b64({ alg: 'none' })}.${b64({ role: 'project_admin' })}.`]) {
  const response = await app.inject({ url: '/api/metadata/anon-key', headers: { authorization: `Bearer ${token}` } })
  assert.equal(response.statusCode, 401)
  assert.equal(response.headers['www-authenticate'], 'Bearer')
}
const read = await app.inject({ url: '/api/metadata/anon-key', headers: admin })
assert.equal(read.statusCode, 200)
assert.equal(read.headers['cache-control'], 'no-store')
assert.equal((await app.inject({ method: 'POST', url: '/api/secrets/anon-key/rotate', headers: denied })).statusCode, 401)
assert.equal((await app.inject({ method: 'POST', url: '/api/secrets/anon-key/rotate', headers: admin })).statusCode, 200)
const limited = await app.inject({ url: '/api/metadata/anon-key', headers: { ...admin, 'x-maintenance': '1' } })
assert.equal(limited.statusCode, 429)
assert.equal(limited.json().error, 'RATE_LIMITED')
assert.equal(limited.headers['retry-after'], '7')
assert.equal((await app.inject({ method: 'DELETE', url: '/api/secrets/anon-key/previous/', headers: admin })).statusCode, 400)
assert.equal((await app.anonKey.listPrevious()).length, 1, 'the trailing-slash DELETE revoked nothing')
const deep = '['.repeat(30000) + ']'.repeat(30000)
const nested = await app.inject({ method: 'POST', url: '/api/secrets/anon-key/rotate', headers: { ...admin, 'content-type': 'application/json' }, payload: deep })
assert.equal(nested.statusCode, 400)
await new Promise((resolve) => setTimeout(resolve, 50))
await app.close()
console.log('hostile consumer: ok')
