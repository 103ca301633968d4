import Redis from 'ioredis'
import { memoryStore, redisStore, type AnonKeyStore } from '../lib/index.js'

export const STORE_KINDS = ['memory', 'redis'] as const
export type StoreKind = typeof STORE_KINDS[number]

export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** One connection to a backend: a store, and how to release what was opened for it. */
export interface Connection {
  store: AnonKeyStore
  close: () => Promise<void>
}

/**
 * A backend that several apps can connect to, each through its own client (pool, Redis connection), as separate
 * instances would. For the memory store, "connecting" twice to one namespace shares one memoryStore().
 */
export interface Backend {
  kind: StoreKind
  connect: (namespace: string) => Promise<Connection>
}

export function uniqueNamespace (label: string): string {
  return `bench_${label}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
}

export function backend (kind: StoreKind): Backend {
  if (kind === 'redis') {
    return {
      kind,
      async connect (namespace) {
        const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
        const store = redisStore({ client, namespace })
        return {
          store,
          close: async () => {
            await store.close()
            await client.del(`{fastify-anon-key:${namespace}}:state`).catch(() => {})
            client.disconnect()
          }
        }
      }
    }
  }
  const shared = new Map<string, AnonKeyStore>()
  return {
    kind,
    async connect (namespace) {
      let store = shared.get(namespace)
      if (store === undefined) {
        store = memoryStore({ namespace })
        shared.set(namespace, store)
      }
      return { store, close: async () => {} }
    }
  }
}
