// One anon key per platform: a `web` key that only browsers on the app's own origins may use, and an `ios` key
// for the app in the store. The web key is rotated alone (a web bundle redeploys in minutes) while the iOS app,
// which takes weeks to update, keeps its key. Origin checks keep other web sites from using the web key in
// browsers; they cannot stop a client that is not a browser, which sends whatever headers it likes.
// Run with: npx tsx examples/platform-keys.ts
import Fastify, { type FastifyInstance } from 'fastify'
import anonKey, { memoryStore, verifyAnonKey, type AnonKeyStore } from '../lib/index.js'
import { closeOnSignals, devAdminToken, jwtSecretFromEnv, listen, portFromEnv } from './dev-admin.js'

export const WEB_ORIGINS = ['https://app.example.com', 'https://*.preview.example.com']

/** The app, with its `web` and `ios` keys made (once: a restart against a persistent store finds them). */
export async function build (jwtSecret: string, store: AnonKeyStore = memoryStore()): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(anonKey, { jwt: { secret: jwtSecret }, store })
  // request.anonKey.name says which platform called.
  app.get('/catalog', { onRequest: verifyAnonKey }, async (request) => ({ platform: request.anonKey?.name }))
  await app.ready()
  const names = new Set((await app.anonKey.listKeys()).map((key) => key.name))
  if (!names.has('web')) await app.anonKey.createKey({ name: 'web', description: 'Web app', allowedOrigins: WEB_ORIGINS })
  if (!names.has('ios')) await app.anonKey.createKey({ name: 'ios', description: 'iOS app' })
  return app
}

async function main (): Promise<void> {
  const jwtSecret = jwtSecretFromEnv()
  const app = await build(jwtSecret)
  const base = await listen(app, portFromEnv(3000))
  closeOnSignals(app)
  const keys = Object.fromEntries((await app.anonKey.listKeys()).map((key) => [key.name, key.anonKey]))
  console.log(`listening on ${base}; keys: ${Object.keys(keys).join(', ')}`)
  const token = devAdminToken(jwtSecret)
  console.log(`
  curl -s ${base}/catalog -H "Authorization: Bearer ${keys.web}" -H "Origin: https://app.example.com"   # 200, platform web
  curl -s ${base}/catalog -H "Authorization: Bearer ${keys.web}" -H "Origin: https://evil.example"      # 403 ANON_KEY_ORIGIN_NOT_ALLOWED
  curl -s ${base}/catalog -H "Authorization: Bearer ${keys.ios}"                                        # 200, platform ios`)
  if (token !== null) {
    console.log(`  export TOKEN=${token}
  curl -s ${base}/api/secrets/anon-keys -H "Authorization: Bearer $TOKEN"                                # every key
  curl -s -X POST ${base}/api/secrets/anon-keys/web/rotate -H "Authorization: Bearer $TOKEN"             # rotate web alone
`)
  }
}

if (require.main === module) main()
