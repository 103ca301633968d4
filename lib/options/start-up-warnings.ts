import type { FastifyBaseLogger } from 'fastify'
import type { ResolvedOptions } from './options.js'
import { isMemoryStore } from '../stores/memory/memory-store.js'

/**
 * In production, a memory store without `initialKey` makes a new random key on every start, which cuts off every
 * client that ships the old one. Logged once at start-up; not an error, since a single throwaway instance may mean it.
 */
export function warnIfKeyIsLostOnRestart (settings: ResolvedOptions, log: FastifyBaseLogger): void {
  if (process.env.NODE_ENV !== 'production' || settings.initialKey !== null || !isMemoryStore(settings.store)) return
  log.warn('fastify-anon-key: NODE_ENV is production and the key lives in the memory store, which loses it on restart: ' +
    'every restart makes a new anon key and cuts off every client that ships the old one. ' +
    'Use a persistent store, postgresStore({ pool }), redisStore({ client }) or, on one host, sqliteStore({ database }), or pass initialKey.')
}
