const Fastify = require('fastify')
const anonKey = require('fastify-anon-key')
const { memoryStore, verifyAnonKey } = require('fastify-anon-key')
const assert = require('node:assert/strict')

async function main () {
  const app = Fastify()
  app.register(anonKey, { store: memoryStore(), authorize: () => true })
  app.get('/imported', { onRequest: verifyAnonKey }, async (request) => request.anonKey)
  await app.ready()
  assert.equal((await app.inject({ url: '/imported' })).statusCode, 401)
  const response = await app.inject({ url: '/api/metadata/anon-key' })
  assert.equal(response.statusCode, 200)
  assert.match(response.json().anonKey, /^anon_[0-9a-f]{64}$/)
  await app.close()
  console.log('CommonJS consumer: ok')
}
main().catch((error) => { console.error(error); process.exit(1) })
