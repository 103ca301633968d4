import Redis from 'ioredis'
import { Pool } from 'pg'
import { memoryStore, postgresStore, redisStore, type AnonKeyStore } from '../lib/index.js'

export const STORE_KINDS = ['memory', 'postgres', 'redis'] as const
export type StoreKind = typeof STORE_KINDS[number]

export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** One connection to a backend: a store, and how to release what was opened for it. */
export interface Connection {
  store: AnonKeyStore
  /** One plain round trip to the backend (nothing for the memory store), to compare with. */
  ping: () => Promise<unknown>
  /**
   * PostgreSQL only: the smallest durable transaction of the same shape as a rotation (BEGIN, SELECT ... FOR
   * UPDATE, UPDATE, COMMIT on a scratch table), without the plugin or the store: the floor under a rotation.
   */
  floor?: () => Promise<void>
  /** Redis only: how many SLOWLOG entries name `namespace` in their arguments (read only; never reset). */
  slowlog?: (namespace: string) => Promise<number>
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
  if (kind === 'postgres') {
    return {
      kind,
      async connect (namespace) {
        const pool = new Pool({ connectionString: DATABASE_URL, max: 4 })
        const store = postgresStore({ pool, namespace })
        const scratch = `bench_floor_${namespace}`.replace(/[^a-z0-9_]/gi, '_').slice(0, 60)
        let scratchReady: Promise<unknown> | null = null
        return {
          store,
          ping: () => pool.query('SELECT 1'),
          floor: async () => {
            scratchReady ??= pool.query(`CREATE TABLE ${scratch} (id int PRIMARY KEY, value text); INSERT INTO ${scratch} VALUES (1, '')`)
            await scratchReady
            const client = await pool.connect()
            try {
              await client.query('BEGIN')
              await client.query(`SELECT value FROM ${scratch} WHERE id = 1 FOR UPDATE`)
              await client.query(`UPDATE ${scratch} SET value = $1 WHERE id = 1`, [String(Math.random())])
              await client.query('COMMIT')
            } finally {
              client.release()
            }
          },
          close: async () => {
            await store.close()
            await pool.query('DELETE FROM anon_key_projects WHERE namespace = $1', [namespace]).catch(() => {})
            await pool.query('DELETE FROM anon_key_projects_retired WHERE namespace = $1', [namespace]).catch(() => {})
            if (scratchReady !== null) await pool.query(`DROP TABLE IF EXISTS ${scratch}`).catch(() => {})
            await pool.end()
          }
        }
      }
    }
  }
  if (kind === 'redis') {
    return {
      kind,
      async connect (namespace) {
        const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
        const store = redisStore({ client, namespace })
        return {
          store,
          ping: () => client.ping(),
          slowlog: async (name) => {
            const entries = await client.call('SLOWLOG', 'GET', '-1') as Array<[number, number, number, string[]]>
            return entries.filter((entry) => entry[3].some((arg) => String(arg).includes(name))).length
          },
          close: async () => {
            await store.close()
            await client.del(`{fastify-anon-key:${namespace}:}:state`, `{fastify-anon-key:${namespace}:}:retired`).catch(() => {})
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
      return { store, ping: async () => {}, close: async () => {} }
    }
  }
}
