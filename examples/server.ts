// The quick start: the anon key plugin, a route guarded by verifyAnonKey, Swagger UI at /docs, and a development
// admin token with ready-to-paste curl lines. Run with: npm start. Run so, the key lives in a SQLite file
// (ANON_KEY_DB, default anon-keys.db), so it survives a restart; build() alone uses the memory store.
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Database from 'better-sqlite3'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import anonKey, { memoryStore, sqliteStore, verifyAnonKey, type AnonKeyStore } from '../lib/index.js'
import { closeOnSignals, devAdminToken, envOr, jwtSecretFromEnv, listen, portFromEnv } from './dev-admin.js'

export async function build (jwtSecret: string, logger: FastifyServerOptions['logger'] = false, store: AnonKeyStore = memoryStore()): Promise<FastifyInstance> {
  const app = Fastify({ logger })

  // @fastify/swagger first, so that it sees the plugin's routes. The plugin declares the admin JWT scheme its
  // routes name; the host declares only its own: anonKey documents the key a frontend sends to /api/hello.
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'fastify-anon-key example', version: '1.0.0' },
      components: {
        securitySchemes: {
          anonKey: { type: 'http', scheme: 'bearer', description: 'The public anon key, anon_ followed by 64 hex characters' }
        }
      }
    }
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })
  await app.register(anonKey, { jwt: { secret: jwtSecret }, store })

  // What a frontend calls with the anon key it embeds.
  app.get('/api/hello', {
    onRequest: verifyAnonKey,
    schema: { summary: 'A route for anon key holders', tags: ['Public'], security: [{ anonKey: [] }] }
  }, async (request) => {
    return { hello: 'anon', key: request.anonKey }
  })
  return app
}

async function main (): Promise<void> {
  const jwtSecret = jwtSecretFromEnv()
  const file = envOr('ANON_KEY_DB', 'anon-keys.db')
  const database = new Database(file)
  database.pragma('journal_mode = WAL')
  const app = await build(jwtSecret, { level: envOr('LOG_LEVEL', 'info') }, sqliteStore({ database }))
  app.addHook('onClose', () => { database.close() })
  const base = await listen(app, portFromEnv(3000))
  console.log(`The anon key is kept in ${file}: it survives a restart. Delete the file for a new one.`)
  closeOnSignals(app)
  const token = devAdminToken(jwtSecret)

  if (token === null) {
    console.log('NODE_ENV=production: no development admin token is printed. Sign one with your JWT_SECRET.')
    return
  }
  console.log(tryItScript(base, token))
}

/**
 * The life of a key, as a script to paste into a shell: read it, use it, rotate it with a grace period, see the
 * old key still work (and say when it stops), list it with its usage, revoke it, see it refused.
 */
export function tryItScript (base: string, token: string): string {
  const admin = '-H "Authorization: Bearer $TOKEN"'
  return `
Paste these lines into a shell (bash or zsh) to see the life of a key; the token is valid 1 hour.

export BASE=${base}
export TOKEN=${token}

# 1. Read the anon key (admin only)
export ANON_KEY=$(curl -s $BASE/api/metadata/anon-key ${admin} | node -pe 'JSON.parse(require("fs").readFileSync(0)).anonKey'); echo $ANON_KEY
# 2. Call the route it guards
curl -s $BASE/api/hello -H "Authorization: Bearer $ANON_KEY"; echo
# 3. Rotate it, keeping the old key valid for 24 hours
curl -s -X POST $BASE/api/secrets/anon-key/rotate ${admin} -H 'content-type: application/json' -d '{"gracePeriodHours":24}'; echo
# 4. The old key still works, and its Anon-Key-Expires-At header says until when
curl -si $BASE/api/hello -H "Authorization: Bearer $ANON_KEY" | grep -i -e '^HTTP' -e '^anon-key-expires-at'
# 5. List the previous keys, with how many requests each still gets
curl -s $BASE/api/secrets/anon-key/previous ${admin}; echo
# 6. Revoke every previous key now (incident response)
curl -s -X DELETE $BASE/api/secrets/anon-key/previous ${admin}; echo
# 7. The old key now answers ANON_KEY_REVOKED
curl -s $BASE/api/hello -H "Authorization: Bearer $ANON_KEY"; echo

Swagger UI (click Authorize and paste $TOKEN for the admin routes, $ANON_KEY for /api/hello):
  ${base}/docs
`
}

if (require.main === module) main()
