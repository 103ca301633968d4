// The quick start: the anon key plugin on the memory store, a route guarded by verifyAnonKey, and a
// development admin token with ready-to-paste curl lines. Run with: npm start
import Fastify from 'fastify'
import { createSigner } from 'fast-jwt'
import anonKey from '../lib/index.js'

const port = Number(process.env.PORT ?? 3000)
const production = process.env.NODE_ENV === 'production'
const secret = process.env.JWT_SECRET ?? (production ? undefined : 'development-secret-change-me')
if (secret === undefined) {
  console.error('Set JWT_SECRET: in production the example will not make up a secret.')
  process.exit(1)
}

async function main (jwtSecret: string): Promise<void> {
  const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'info' } })
  await app.register(anonKey, { jwt: { secret: jwtSecret } })

  // What a frontend calls with the anon key it embeds.
  app.get('/api/hello', { onRequest: app.verifyAnonKey }, async (request) => {
    return { hello: 'anon', key: request.anonKey }
  })

  await app.listen({ port, host: '127.0.0.1' })

  if (production) {
    console.log('NODE_ENV=production: no development admin token is printed. Sign one with your JWT_SECRET.')
  } else {
    const token = createSigner({ key: jwtSecret, expiresIn: 60 * 60 * 1000 })({ role: 'project_admin', sub: 'dev-admin' })
    const base = `http://127.0.0.1:${port}`
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
`)
}
}

main(secret).catch((error) => {
  console.error(error)
  process.exit(1)
})
