import bearerAuth from '@fastify/bearer-auth'
import Fastify, { type FastifyInstance } from 'fastify'
import anonKey, { generateAnonKey, type AnonKeyStore } from '../lib/index.js'

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
 * The control for any auth hook: bare Fastify plus an onRequest hook that does nothing. What it costs over bare
 * is the price of having a hook at all (Fastify's hook runner), which no hook can go below.
 */
export function noopHookApp (): FastifyInstance {
  const app = Fastify({ logger: false })
  app.addHook('onRequest', function noopHook (request, reply, done) { done() })
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

/** The plugin on `store`, and the route behind verifyAnonKey, as the README shows it. */
export function anonKeyApp (store: AnonKeyStore): FastifyInstance {
  const app = Fastify({ logger: false })
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, store, cacheTtlMs: BENCH_TIMER_MS, usageFlushMs: BENCH_TIMER_MS })
  app.register(async (guarded) => {
    guarded.addHook('onRequest', guarded.verifyAnonKey)
    route(guarded)
  })
  return app
}

/** A well-formed key that no app knows, so that the bare app gets a header of the same size. */
export function someKey (): string {
  return generateAnonKey()
}
