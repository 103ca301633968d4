import Fastify from 'fastify'
import anonKey, { memoryStore, verifyAnonKey } from 'fastify-anon-key'
import { anonKeyAdminPage } from 'fastify-anon-key/admin-page'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
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

// The admin page serves its files from the tarball, found beside the page plugin of either build: here the ES
// module build, and the CommonJS one beside this ES module build of the plugin.
const pages = [anonKeyAdminPage, createRequire(import.meta.url)('fastify-anon-key/admin-page').anonKeyAdminPage]
assert.notEqual(pages[0], pages[1])
for (const page of pages) {
  const host = Fastify()
  await host.register(anonKey, { authorize: () => true })
  await host.register(page, { routePrefix: '/keys' })
  for (const path of ['/keys/', '/keys/admin-page.js', '/keys/admin-page.css']) {
    const response = await host.inject(path)
    assert.equal(response.statusCode, 200, path)
    assert.match(response.headers['content-security-policy'], /script-src 'self'/)
    assert.ok(response.body.length > 1000, path)
  }
  await host.close()
}
console.log('ESM consumer: ok')
