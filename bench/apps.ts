import bearerAuth from '@fastify/bearer-auth'
import Fastify, { type FastifyInstance } from 'fastify'
import anonKey, { verifyAnonKey, type AnonKeyStore, type FastifyAnonKeyOptions } from '../lib/index.js'
import { generateAnonKey } from '../lib/stores/index.js'
import { countingStore, type CountingStore } from '../test/helpers/counting-store.js'
import { backend, uniqueNamespace, type Connection, type StoreKind } from './stores.js'

export const JWT_SECRET = 'bench-secret-that-is-long-enough-for-hs256'

/**
 * The plugin's two timers, set an hour away so that they never fire during a run: the fallback reload
 * (cacheTtlMs: one load() per period) and the usage report (usageFlushMs: one recordUsage() per period while
 * previous keys are in use). Neither depends on the request rate; with them out of the way, the store call count
 * shows what verification itself costs, and only the store's change notification refreshes the cache.
 */
export const BENCH_TIMER_MS = 60 * 60 * 1000

/** The one small JSON route every variant serves. */
function route (app: FastifyInstance): void {
  app.get('/data', async () => ({ hello: 'world' }))
}

export function bareApp (): FastifyInstance {
  const app = Fastify({ logger: false })
  route(app)
  return app
}

/**
 * The control for any auth hook (issue 10's "floor"): a synchronous onRequest hook that looks the Authorization
 * header up in a Set. No check of a credential can cost less than this: the price of having a hook at all
 * (Fastify's hook runner) plus one lookup.
 */
export function floorApp (key: string, decorate: 'none' | 'value' | 'accessor' = 'none'): FastifyInstance {
  const app = Fastify({ logger: false })
  // The two ways to declare request.anonKey, measured on the floor hook (variants floor-value, floor-accessor).
  if (decorate === 'value') app.decorateRequest('anonKey', null)
  if (decorate === 'accessor') app.decorateRequest('anonKey', { getter () { return null } })
  const allowed = new Set([`Bearer ${key}`])
  app.addHook('onRequest', function floorHook (request, reply, done) {
    if (allowed.has(request.headers.authorization as string)) {
      done()
      return
    }
    reply.code(401).send()
  })
  route(app)
  return app
}

/** The route behind @fastify/bearer-auth with one key, the closest official plugin. */
export function bearerAuthApp (key: string): FastifyInstance {
  const app = Fastify({ logger: false })
  app.register(async (guarded) => {
    await guarded.register(bearerAuth, { keys: new Set([key]) })
    route(guarded)
  })
  return app
}

/**
 * The plugin on `store`, and the route behind verifyAnonKey: the decorator (`guarded.verifyAnonKey`) or the
 * standalone import, which finds the plugin through request.server on each request.
 */
export function anonKeyApp (store: AnonKeyStore, form: 'decorator' | 'import' = 'decorator', options: Partial<FastifyAnonKeyOptions> = {}): FastifyInstance {
  const app = Fastify({ logger: false })
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, store, cacheTtlMs: BENCH_TIMER_MS, usageFlushMs: BENCH_TIMER_MS, ...options })
  app.register(async (guarded) => {
    guarded.addHook('onRequest', form === 'decorator' ? guarded.verifyAnonKey : verifyAnonKey)
    route(guarded)
  })
  return app
}

/** The restricted-origin path: a named key limited to origins, used from one of them (exact match, a Set lookup). */
export const BENCH_ORIGIN = 'https://app.example.com'

async function originVariant (): Promise<Served> {
  const { app, counting, connection } = await countedApp('memory', (store) => anonKeyApp(store))
  return {
    app,
    counting,
    connection,
    headers: async () => {
      const web = await app.anonKey.createKey({ name: 'web', allowedOrigins: [BENCH_ORIGIN, 'https://*.preview.example.com'] })
      return { authorization: `Bearer ${web.anonKey}`, origin: BENCH_ORIGIN }
    }
  }
}

/**
 * The app-bound path: a named key bound to an Android and an iOS app, sent with the Android app's headers in normal
 * form. With `bound` false, the control: the very same request, with a key bound to nothing, so that the two headers
 * cost the HTTP parser alike in both.
 */
async function appsVariant (bound: boolean): Promise<Served> {
  const { app, counting, connection } = await countedApp('memory', (store) => anonKeyApp(store))
  const certSha1 = 'da39a3ee5e6b4b0d3255bfef95601890afd80709'
  return {
    app,
    counting,
    connection,
    headers: async () => {
      const allowedApps = bound ? { android: [{ packageName: 'com.example.app', certSha1 }], ios: ['com.example.app'] } : null
      const mobile = await app.anonKey.createKey({ name: 'mobile', allowedApps })
      return { authorization: `Bearer ${mobile.anonKey}`, 'x-android-package': 'com.example.app', 'x-android-cert': certSha1 }
    }
  }
}

/**
 * The attested path with a token already verified: a named key with requireAttestation, sent with a token of the
 * size Firebase App Check issues (about 900 characters). The provider is a verify() that keeps its tokens a day:
 * a cached token is a lookup whatever the provider, so the JWKS plays no part in this path. With `required` false,
 * the control: the same server and the very same request, but the key does not require attestation, so the
 * plugin ignores the token that the HTTP parser still reads.
 */
async function attestedVariant (required: boolean): Promise<Served> {
  const token = ['eyJ' + 'a'.repeat(120), 'eyJ' + 'b'.repeat(420), 'c'.repeat(342)].join('.')
  const { app, counting, connection } = await countedApp('memory', (store) => anonKeyApp(store, 'decorator', {
    attestation: { verify: (candidate) => candidate === token && { expiresAt: Date.now() + 24 * 60 * 60 * 1000 } }
  }))
  return {
    app,
    counting,
    connection,
    headers: async () => {
      const mobile = await app.anonKey.createKey({ name: 'mobile', requireAttestation: required })
      await app.anonKey.verify(mobile.anonKey, { attestationToken: token }) // verifies and keeps it, as a first request would
      return { authorization: `Bearer ${mobile.anonKey}`, 'x-firebase-appcheck': token }
    }
  }
}

/** Tenant mode: the plugin with the resolver reading the x-tenant header, and the route behind verifyAnonKey. */
export function tenantModeApp (store: AnonKeyStore, options: Partial<FastifyAnonKeyOptions> = {}): FastifyInstance {
  const app = Fastify({ logger: false })
  app.register(anonKey, {
    jwt: { secret: JWT_SECRET },
    store,
    cacheTtlMs: BENCH_TIMER_MS,
    usageFlushMs: BENCH_TIMER_MS,
    tenant: (request) => request.headers['x-tenant'] as string | undefined,
    authorize: () => true,
    ...options
  })
  app.register(async (guarded) => {
    guarded.addHook('onRequest', guarded.verifyAnonKey)
    route(guarded)
  })
  return app
}

/**
 * Tenant mode: `tenants` tenants are provisioned and cached first, and each connection of the load goes through
 * all of them in turn, one request each (a tenant header and that tenant's key): the hot path of cached tenants,
 * the resolver, the tenant lookup and the LRU included.
 */
async function tenantVariant (tenants = 1000): Promise<Served> {
  const { app, counting, connection } = await countedApp('memory', (store) => tenantModeApp(store))
  return {
    app,
    counting,
    connection,
    headers: async () => {
      const requests: Array<Record<string, string>> = []
      for (let i = 0; i < tenants; i++) {
        const tenant = app.anonKey.forTenant(`tenant-${i}`)
        const key = (await tenant.initialize()).anonKey
        await tenant.verify(key) // loads it into the cache, as a first request would
        requests.push({ authorization: `Bearer ${key}`, 'x-tenant': `tenant-${i}` })
      }
      return requests
    }
  }
}

/** A well-formed key that no app knows, so that the bare app gets a header of the same size. */
export function someKey (): string {
  return generateAnonKey()
}

export type RequestHeaders = Record<string, string> | Array<Record<string, string>>

/** A variant's server, built: the app, the headers every request of the load carries, and what to close. */
export interface Served {
  app: FastifyInstance
  /**
   * Resolved once the app listens: the headers of every request (an Authorization header of the same size in
   * every variant), or a list of them that each connection of the load goes through in turn.
   */
  headers: () => Promise<RequestHeaders>
  counting: CountingStore | null
  connection: Connection | null
}

/** A store of `kind` on a namespace of its own, wrapped to count its calls, and the app `build` makes on it. */
async function countedApp (
  kind: StoreKind,
  build: (store: AnonKeyStore) => FastifyInstance
): Promise<{ app: FastifyInstance, counting: CountingStore, connection: Connection }> {
  const connection = await backend(kind).connect(uniqueNamespace('http'))
  const counting = countingStore(connection.store)
  return { app: build(counting.store), counting, connection }
}

async function anonVariant (kind: StoreKind, form: 'decorator' | 'import'): Promise<Served> {
  const { app, counting, connection } = await countedApp(kind, (store) => anonKeyApp(store, form))
  return { app, counting, connection, headers: async () => ({ authorization: `Bearer ${await app.anonKey.get()}` }) }
}

/**
 * anon-memory with OpenTelemetry metrics recorded: a MeterProvider of @opentelemetry/sdk-metrics whose reader
 * collects once an hour, so that what is measured is what the hook adds per request, not the export.
 */
async function metricsVariant (): Promise<Served> {
  const { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } = await import('@opentelemetry/sdk-metrics')
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  const meterProvider = new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: BENCH_TIMER_MS })] })
  const { app, counting, connection } = await countedApp('memory', (store) => anonKeyApp(store, 'decorator', { metrics: { meterProvider } }))
  app.addHook('onClose', async () => { await meterProvider.shutdown() })
  return { app, counting, connection, headers: async () => ({ authorization: `Bearer ${await app.anonKey.get()}` }) }
}

/**
 * anon-memory's server loaded the way anon-tenant is: a list of 1,000 requests that each connection goes through
 * in turn, each with an x-tenant header (ignored here). The load generator sends such a list at about half the
 * rate of one fixed request, and a server fed more slowly spends more CPU per request, so anon-tenant is compared
 * with this, not with anon-memory.
 */
async function listedVariant (requests = 1000): Promise<Served> {
  const served = await anonVariant('memory', 'decorator')
  return {
    ...served,
    headers: async () => {
      const key = await served.app.anonKey.get() as string
      return Array.from({ length: requests }, (_, i) => ({ authorization: `Bearer ${key}`, 'x-tenant': `tenant-${i}` }))
    }
  }
}

function plain (app: (key: string) => FastifyInstance): () => Promise<Served> {
  return async () => {
    const key = someKey()
    return { app: app(key), counting: null, connection: null, headers: async () => ({ authorization: `Bearer ${key}` }) }
  }
}

/**
 * Every variant the throughput part can serve, by name (`npm run bench -- --variants a,b`). To measure a new
 * path of the hook, add it here with the headers its requests carry, and a target in run.ts's CPU_TARGETS
 * comparing it with the plain route, as for anon-origin and anon-tenant.
 */
export const VARIANTS: Record<string, () => Promise<Served>> = {
  bare: plain(() => bareApp()),
  floor: plain((key) => floorApp(key)),
  'floor-value': plain((key) => floorApp(key, 'value')),
  'floor-accessor': plain((key) => floorApp(key, 'accessor')),
  'bearer-auth': plain((key) => bearerAuthApp(key)),
  'anon-memory': () => anonVariant('memory', 'decorator'),
  // The very same server as anon-memory, run beside it: how far two identical variants drift apart in one run.
  'anon-twin': () => anonVariant('memory', 'decorator'),
  'anon-import': () => anonVariant('memory', 'import'),
  'anon-postgres': () => anonVariant('postgres', 'decorator'),
  'anon-redis': () => anonVariant('redis', 'decorator'),
  'anon-origin': () => originVariant(),
  'anon-metrics': () => metricsVariant(),
  'anon-apps': () => appsVariant(true),
  // anon-apps' request, with a key bound to no app: what the two headers cost the parser.
  'anon-apps-sent': () => appsVariant(false),
  'anon-attested': () => attestedVariant(true),
  // anon-attested's request, with a key that does not require attestation: what the token's bytes cost the parser.
  'anon-token-sent': () => attestedVariant(false),
  'anon-listed': () => listedVariant(),
  'anon-tenant': () => tenantVariant()
}
