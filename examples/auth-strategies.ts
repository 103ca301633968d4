// One route, two kinds of caller: a frontend with the public anon key, or a signed-in user with a user JWT.
// @fastify/auth tries verifyAnonKey first; verifyAnonKey hands its refusal to done(), so @fastify/auth goes
// on to the user JWT check. Neither: 401. Run with: npx tsx examples/auth-strategies.ts
import fastifyAuth from '@fastify/auth'
import fastifyJwt from '@fastify/jwt'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import anonKey, { verifyAnonKey } from '../lib/index.js'
import { closeOnSignals, devAdminToken, envOr, jwtSecretFromEnv, listen, portFromEnv } from './dev-admin.js'

export interface AuthStrategiesOptions {
  /** Signs admin tokens for the anon key routes. */
  adminJwtSecret: string
  /** Signs the tokens of your own users; the host's @fastify/jwt, unrelated to the plugin's. */
  userJwtSecret: string
}

/** The user strategy: a JWT signed with the host's user secret (request.user holds its payload). */
async function verifyUserJwt (request: FastifyRequest): Promise<void> {
  await request.jwtVerify()
}

export async function build ({ adminJwtSecret, userJwtSecret }: AuthStrategiesOptions): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(fastifyJwt, { secret: userJwtSecret })
  await app.register(fastifyAuth)
  await app.register(anonKey, { jwt: { secret: adminJwtSecret } })

  app.get('/posts', { onRequest: app.auth([verifyAnonKey, verifyUserJwt]) }, async (request) => {
    if (request.anonKey !== null) return { caller: 'anon', fingerprint: request.anonKey.fingerprint, posts: ['public posts'] }
    return { caller: 'user', sub: (request.user as { sub?: string }).sub, posts: ['public posts', 'your drafts'] }
  })
  return app
}

async function main (): Promise<void> {
  const adminJwtSecret = jwtSecretFromEnv()
  const userJwtSecret = envOr('USER_JWT_SECRET', `${adminJwtSecret}-users`)
  const app = await build({ adminJwtSecret, userJwtSecret })
  const base = await listen(app, portFromEnv(3000))
  closeOnSignals(app)
  const token = devAdminToken(adminJwtSecret)
  console.log(`auth-strategies example listening on ${base}`)
  if (token !== null) {
    const userToken = app.jwt.sign({ sub: 'user-42', role: 'authenticated' }, { expiresIn: '1h' })
    console.log(`
  export TOKEN=${token}
  export ANON_KEY=$(curl -s ${base}/api/metadata/anon-key -H "Authorization: Bearer $TOKEN" | node -pe 'JSON.parse(require("fs").readFileSync(0)).anonKey')
  curl -s ${base}/posts -H "Authorization: Bearer $ANON_KEY"        # as the anon role
  curl -s ${base}/posts -H "Authorization: Bearer ${userToken}"     # as user-42
  curl -s ${base}/posts                                             # 401
`)
  }
}

if (require.main === module) main()
