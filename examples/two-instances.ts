// Two instances of one service behind one store: a rotation made through either is seen by both, with no
// restart. Here both apps run in one process and share a memoryStore(); across processes or machines, pass
// postgresStore({ pool }) or redisStore({ client }) instead (see examples/postgres.ts and examples/redis.ts).
// Run with: npx tsx examples/two-instances.ts
import Fastify, { type FastifyInstance } from 'fastify'
import anonKey, { memoryStore, verifyAnonKey, type AnonKeyStore } from '../lib/index.js'
import { closeOnSignals, devAdminToken, jwtSecretFromEnv, listen, portFromEnv } from './dev-admin.js'

async function instance (name: string, jwtSecret: string, store: AnonKeyStore): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(anonKey, { jwt: { secret: jwtSecret }, store })
  app.get('/hello', { onRequest: verifyAnonKey }, async (request) => ({ servedBy: name, key: request.anonKey }))
  return app
}

/** Two apps on one store. The store is the caller's to close, after both apps. */
export async function build (jwtSecret: string, store: AnonKeyStore = memoryStore()): Promise<[FastifyInstance, FastifyInstance]> {
  const a = await instance('a', jwtSecret, store)
  const b = await instance('b', jwtSecret, store)
  // Both start against one store: the first creates the key, the second finds it.
  await Promise.all([a.ready(), b.ready()])
  return [a, b]
}

async function main (): Promise<void> {
  const jwtSecret = jwtSecretFromEnv()
  const [a, b] = await build(jwtSecret)
  const port = portFromEnv(3001)
  const baseA = await listen(a, port)
  const baseB = await listen(b, port + Math.sign(port)) // the next port; with PORT=0, any free one for both
  closeOnSignals(a, b)
  const token = devAdminToken(jwtSecret)
  console.log(`instance a on ${baseA}, instance b on ${baseB}`)
  if (token !== null) {
    console.log(`
  export TOKEN=${token}
  curl -s -X POST ${baseA}/api/secrets/anon-key/rotate -H "Authorization: Bearer $TOKEN"   # rotate through a
  curl -s ${baseB}/api/metadata/anon-key -H "Authorization: Bearer $TOKEN"                 # b answers the new key
`)
  }
}

if (require.main === module) main()
