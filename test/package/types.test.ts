/**
 * A type test: `npx tsc -p tsconfig.json` (the first step of `npm test`) fails if the plugin's decorators lose
 * their types. Each `@ts-expect-error` line fails the type check if the misuse it marks ever compiles.
 * typedSurface, typedStandalone, typedOptions and typedStoreClients are only type-checked, never run: some of their lines are deliberate misuse.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type HookHandlerDoneFunction } from 'fastify'
import type BetterSqlite3 from 'better-sqlite3'
import type { Cluster, Redis } from 'ioredis'
import type { Pool } from 'pg'
import t from 'tap'
import fastifyAuth from '@fastify/auth'
import anonKey, {
  verifyAnonKey,
  type PgPool,
  type RedisClient,
  type SqliteDatabase,
  type AnonKeyApi,
  type AnonKeyIdentity,
  type PreviousKeyInfo,
  type RevokedEvent,
  type RevokeResult,
  type RotatedEvent,
  type RotateResult,
  type VerifyAnonKeyHook,
  type VerifyResult
} from '../../lib/index.js'

function typedSurface (app: FastifyInstance): boolean {
  const hook: (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void = app.verifyAnonKey
  const sameHook: VerifyAnonKeyHook = app.verifyAnonKey
  app.addHook('onRequest', app.verifyAnonKey)
  app.get('/typed', { onRequest: app.verifyAnonKey }, async (request) => {
    const identity: Readonly<AnonKeyIdentity> | null = request.anonKey
    if (identity !== null) {
      const role: 'anon' = identity.role
      const fingerprint: string = identity.fingerprint
      const expiresAt: string | null = identity.expiresAt
      // @ts-expect-error request.anonKey is read-only
      identity.role = 'admin'
      return { role, fingerprint, expiresAt }
    }
    // @ts-expect-error request.anonKey may be null, so it must be checked first
    return { fingerprint: request.anonKey.fingerprint }
  })

  const api: AnonKeyApi = app.anonKey
  const get: Promise<string | null> = api.get()
  const rotated: Promise<RotateResult> = api.rotate({ gracePeriodHours: 24 })
  const verified: Promise<VerifyResult> = api.verify('anon_…')
  const listed: Promise<PreviousKeyInfo[]> = api.listPrevious()
  const revoked: Promise<RevokeResult> = api.revokePrevious('0123456789ab')
  const initialized: Promise<{ created: boolean, anonKey: string }> = api.initialize()
  api.on('rotated', (event: RotatedEvent) => { const actor: string | null = event.actor; return actor })
  api.on('revoked', (event: RevokedEvent) => { const scope: 'all' | 'one' = event.scope; return scope })
  verified.then((result) => {
    if (result.valid) {
      const expiresAt: string | null = result.expiresAt
      return expiresAt
    }
    const code: 'AUTH_INVALID_CREDENTIALS' | 'ANON_KEY_EXPIRED' | 'ANON_KEY_REVOKED' | 'ANON_KEY_ORIGIN_NOT_ALLOWED' | 'ANON_KEY_APP_NOT_ALLOWED' |
      'ANON_KEY_ATTESTATION_REQUIRED' | 'ANON_KEY_ATTESTATION_INVALID' = result.code
    // @ts-expect-error a refused key has no fingerprint
    return result.fingerprint ?? code
  })

  // @ts-expect-error gracePeriodHours is a number
  api.rotate({ gracePeriodHours: '24' })
  // @ts-expect-error verifyAnonKey is a hook, not a function of the key
  app.verifyAnonKey('anon_…')
  // @ts-expect-error get takes no argument
  api.get('anon_…')
  return [hook, sameHook, get, rotated, listed, revoked, initialized].length > 0
}

/** The standalone export has the decorator's type; both forms can be awaited without done. */
async function typedStandalone (app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): Promise<boolean> {
  const same: VerifyAnonKeyHook = verifyAnonKey
  app.addHook('onRequest', verifyAnonKey)
  app.get<{ Querystring: { page: number } }>('/typed-import', { onRequest: verifyAnonKey }, async (request) => request.query.page)
  app.get('/awaited', {
    onRequest: async (request, reply) => {
      await verifyAnonKey(request, reply)
      await app.verifyAnonKey(request, reply)
    }
  }, async () => 'ok')
  const awaited: Promise<void> = verifyAnonKey(request, reply)
  const decorated: Promise<void> = app.verifyAnonKey(request, reply)
  const called: void = verifyAnonKey(request, reply, done)
  // @ts-expect-error with done, the hook returns nothing to await
  const notAPromise: Promise<void> = verifyAnonKey(request, reply, done)
  await app.register(fastifyAuth)
  app.get('/either', { onRequest: app.auth([verifyAnonKey, app.verifyAnonKey]) }, async () => 'ok')
  app.register(anonKey, { jwt: { secret: 's' }, expiryHeader: false, apiKeyHeader: 'apikey' })
  // @ts-expect-error expiryHeader is a boolean
  app.register(anonKey, { jwt: { secret: 's' }, expiryHeader: 'no' })
  return [same, awaited, decorated, called, notAPromise].length > 0
}

function typedOptions (): void {
  const app = Fastify()
  app.register(anonKey, { jwt: { secret: 's' }, prefix: '/admin', defaultGracePeriodHours: 24, maxGracePeriodHours: 48 })
  app.register(anonKey, { authorize: async (request) => request.headers['x-admin'] === 'yes' ? { actor: 'me' } : false })
  // @ts-expect-error defaultGracePeriodHours is a number
  app.register(anonKey, { jwt: { secret: 's' }, defaultGracePeriodHours: '24' })
  // @ts-expect-error no such option
  app.register(anonKey, { jwt: { secret: 's' }, gracePeriod: 24 })
}

/** The stores accept the real client types, although the package's own types never import ioredis, pg or better-sqlite3. */
function typedStoreClients (redis: Redis, cluster: Cluster, pool: Pool, sqlite: BetterSqlite3.Database): boolean {
  const clients: RedisClient[] = [redis, cluster]
  const pools: PgPool[] = [pool]
  const databases: SqliteDatabase[] = [sqlite]
  return clients.length + pools.length + databases.length > 0
}

t.test('the decorators are typed (checked by tsc) and present at run time', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(anonKey, { jwt: { secret: 'type-test-secret' } })
  await app.ready()
  t.type(app.verifyAnonKey, 'function')
  const result: VerifyResult = await app.anonKey.verify(await app.anonKey.get())
  t.equal(result.valid, true)
  t.same([typeof typedSurface, typeof typedOptions, typeof typedStoreClients, typeof typedStandalone], ['function', 'function', 'function', 'function'])
})
