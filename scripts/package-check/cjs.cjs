const Fastify = require('fastify')
const anonKey = require('fastify-anon-key')
const { memoryStore } = require('fastify-anon-key')
const { emptyProject, pruneProject } = require('fastify-anon-key/store')
const assert = require('node:assert/strict')

async function main () {
  const app = Fastify()
  app.register(anonKey, { store: memoryStore(), authorize: () => true })
  await app.ready()
  const response = await app.inject({ url: '/api/metadata/anon-key' })
  assert.equal(response.statusCode, 200)
  assert.match(response.json().anonKey, /^anon_[0-9a-f]{64}$/)
  await app.close()
  assert.deepEqual(pruneProject(emptyProject(), 1), emptyProject())
  console.log('CommonJS consumer: ok')
}
main().catch((error) => { console.error(error); process.exit(1) })
