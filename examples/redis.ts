// The anon key in Redis, for a service that runs as several processes or machines: every copy of this program
// pointed at the same Redis (and namespace) serves the same key, and a rotation made through any of them reaches
// the others through Redis pub/sub. Run with: REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/redis.ts
// then, in a second terminal, the same with PORT=3003 to watch two instances agree.
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import anonKey, { redisStore, verifyAnonKey } from '../lib/index.js'
import { devAdminToken, envOr, jwtSecretFromEnv, listen, portFromEnv } from './dev-admin.js'

/** One instance of the service on `client`. The client stays the caller's: the app never closes it. */
export async function build (jwtSecret: string, client: Redis, namespace = 'example'): Promise<FastifyInstance> {
  const app = Fastify()
  // Everything this app stores lives under {fastify-anon-key:<namespace>}:… in Redis.
  const store = redisStore({ client, namespace })
  // The store opened one connection of its own, for pub/sub: release it with the app. onClose hooks run in the
  // reverse order of registration, so a hook added before the plugin runs after the plugin's own close.
  app.addHook('onClose', () => store.close())
  // storeTimeoutMs: if Redis stops answering, admin routes answer 503 after 2 s; verification goes on from memory.
  await app.register(anonKey, { jwt: { secret: jwtSecret }, store, storeTimeoutMs: 2000 })
  app.get('/hello', { onRequest: verifyAnonKey }, async (request) => ({ servedBy: process.pid, key: request.anonKey }))
  return app
}

async function main (): Promise<void> {
  const jwtSecret = jwtSecretFromEnv()
  const redisUrl = envOr('REDIS_URL', 'redis://127.0.0.1:6379')
  const client = new Redis(redisUrl)
  // ioredis reconnects by itself; without an 'error' listener it would print every failed attempt as unhandled.
  client.on('error', (error) => console.error(`Redis at ${redisUrl}: ${error.message}`))
  const namespace = envOr('ANON_KEY_NAMESPACE', 'example')
  const app = await build(jwtSecret, client, namespace)
  const base = await listen(app, portFromEnv(3002))
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      // The app first (it hands its last old-key usage figures to Redis as it closes), then the client.
      app.close().then(() => client.quit()).then(() => process.exit(0))
    })
  }
  const token = devAdminToken(jwtSecret)
  console.log(`Redis example listening on ${base}, keys in ${redisUrl} under {fastify-anon-key:${namespace}}`)
  if (token !== null) {
    console.log(`
  export TOKEN=${token}
  curl -s ${base}/api/metadata/anon-key -H "Authorization: Bearer $TOKEN"
  curl -s -X POST ${base}/api/secrets/anon-key/rotate -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"gracePeriodHours":0}'
A copy started with another PORT (3003, say) serves the same key, and stops accepting the old one as soon as this one rotates.
`)
  }
}

// A failure to start is an unhandled rejection: Node prints it and exits with code 1.
if (require.main === module) main()
