import Fastify from 'fastify'
import anonKey, { memoryStore, verifyAnonKey } from 'fastify-anon-key'
import assert from 'node:assert/strict'
import { emptyProject, fingerprintOf, SINGLE_PROJECT } from 'fastify-anon-key/store'

const app = Fastify()
await app.register(anonKey, { store: memoryStore(), authorize: () => true })
app.get('/data', { onRequest: app.verifyAnonKey }, async (request) => request.anonKey)
app.get('/imported', { onRequest: verifyAnonKey }, async (request) => request.anonKey)
await app.ready()
const key = await app.anonKey.get()
assert.match(key, /^anon_[0-9a-f]{64}$/)
assert.equal((await app.inject({ url: '/data', headers: { authorization: `Bearer ${key}` } })).statusCode, 200)
assert.equal((await app.inject({ url: '/imported', headers: { authorization: `Bearer ${key}` } })).statusCode, 200)
const refused = await app.inject({ url: '/imported' })
assert.equal(refused.statusCode, 401)
assert.equal(refused.headers['www-authenticate'], 'Bearer')
assert.equal((await app.inject({ method: 'POST', url: '/api/secrets/anon-key/rotate' })).statusCode, 200)
await app.close()
assert.deepEqual(emptyProject(), { keys: [] })
assert.match(fingerprintOf(key), /^[0-9a-f]{12}$/)
assert.equal(SINGLE_PROJECT, '')
console.log('ESM consumer: ok')
