// The smallest useful setup: the plugin on the default memory store, and the routes a frontend calls with the
// anon key it embeds. Run with: npx tsx examples/basic.ts
import Fastify, { type FastifyInstance } from 'fastify'
import anonKey, { verifyAnonKey } from '../lib/index.js'
import { closeOnSignals, devAdminToken, jwtSecretFromEnv, listen, portFromEnv } from './dev-admin.js'

const todos = [{ id: 1, title: 'Ship the app with the anon key in its bundle' }]

export async function build (jwtSecret: string): Promise<FastifyInstance> {
  const app = Fastify()
  // Admin routes under /api, admin JWTs signed with jwtSecret, one key created on start-up.
  await app.register(anonKey, { jwt: { secret: jwtSecret } })

  // Every route in this context needs a valid anon key; request.anonKey says which one was used.
  await app.register(async function publicApi (api) {
    api.addHook('onRequest', verifyAnonKey)
    api.get('/todos', async (request) => ({ role: request.anonKey?.role, todos }))
  }, { prefix: '/public' })

  // A route of its own can opt in alone.
  app.get('/whoami', { onRequest: verifyAnonKey }, async (request) => request.anonKey)
  return app
}

async function main (): Promise<void> {
  const jwtSecret = jwtSecretFromEnv()
  const app = await build(jwtSecret)
  const base = await listen(app, portFromEnv(3000))
  closeOnSignals(app)
  const token = devAdminToken(jwtSecret)
  console.log(`basic example listening on ${base}`)
  if (token !== null) {
    console.log(`
  export TOKEN=${token}
  export ANON_KEY=$(curl -s ${base}/api/metadata/anon-key -H "Authorization: Bearer $TOKEN" | node -pe 'JSON.parse(require("fs").readFileSync(0)).anonKey')
  curl -s ${base}/public/todos -H "Authorization: Bearer $ANON_KEY"
  curl -s ${base}/whoami -H "Authorization: Bearer $ANON_KEY"
`)
  }
}

if (require.main === module) main()
