// The quick start: the anon key plugin on the memory store, a route guarded by verifyAnonKey, Swagger UI at
// /docs, and a development admin token with ready-to-paste curl lines. Run with: npm start
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import anonKey from '../lib/index.js'
import { closeOnSignals, devAdminToken, envOr, jwtSecretFromEnv, listen, portFromEnv } from './dev-admin.js'

export async function build (jwtSecret: string, logger: FastifyServerOptions['logger'] = false): Promise<FastifyInstance> {
  const app = Fastify({ logger })

  // @fastify/swagger first, so that it sees the plugin's routes. The plugin's admin routes name the bearerAuth
  // scheme; only the host can declare it, here. anonKey documents the key a frontend sends to /api/hello.
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'fastify-anon-key example', version: '1.0.0' },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          anonKey: { type: 'http', scheme: 'bearer', description: 'The public anon key, anon_ followed by 64 hex characters' }
        }
      }
    }
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })
  await app.register(anonKey, { jwt: { secret: jwtSecret } })

  // What a frontend calls with the anon key it embeds.
  app.get('/api/hello', {
    onRequest: app.verifyAnonKey,
    schema: { summary: 'A route for anon key holders', tags: ['Public'], security: [{ anonKey: [] }] }
  }, async (request) => {
    return { hello: 'anon', key: request.anonKey }
  })
  return app
}

async function main (): Promise<void> {
  const jwtSecret = jwtSecretFromEnv()
  const app = await build(jwtSecret, { level: envOr('LOG_LEVEL', 'info') })
  const base = await listen(app, portFromEnv(3000))
  closeOnSignals(app)
  const token = devAdminToken(jwtSecret)

  if (token === null) {
    console.log('NODE_ENV=production: no development admin token is printed. Sign one with your JWT_SECRET.')
    return
  }
  console.log(`
Development admin token (valid 1 hour, role project_admin):
  export TOKEN=${token}

Read the anon key:
  curl -s ${base}/api/metadata/anon-key -H "Authorization: Bearer $TOKEN"

Rotate it, keeping the old key valid for 24 hours:
  curl -s -X POST ${base}/api/secrets/anon-key/rotate -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"gracePeriodHours":24}'

Try a key on a guarded route:
  export ANON_KEY=$(curl -s ${base}/api/metadata/anon-key -H "Authorization: Bearer $TOKEN" | node -pe 'JSON.parse(require("fs").readFileSync(0)).anonKey')
  curl -s ${base}/api/hello -H "Authorization: Bearer $ANON_KEY"

Swagger UI (click Authorize and paste $TOKEN for the admin routes, $ANON_KEY for /api/hello):
  ${base}/docs
`)
}

if (require.main === module) main()
