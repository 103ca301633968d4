import Redis from 'ioredis'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
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
  /** Bytes the backend holds for this namespace: PostgreSQL its rows, Redis the MEMORY USAGE of its hashes. */
  size?: () => Promise<number>
  /**
   * CPU seconds the backend server has used so far, by process, and what that covers: on PostgreSQL the server
   * processes of this namespace's connections (read from /proc, so only on the same machine), on Redis the whole
   * server. null where it cannot be read.
   */
  serverCpu?: () => Promise<{ processes: Record<string, number>, note: string } | null>
  close: () => Promise<void>
}

/**
 * A backend that several apps can connect to, each through its own client (pool, Redis connection), as separate
 * instances would. For the memory store, "connecting" twice to one namespace shares one memoryStore().
 */
export interface Backend {
  kind: StoreKind
  /** `connections`: PostgreSQL's pool size (default 4). */
  connect: (namespace: string, connections?: number) => Promise<Connection>
}

export function uniqueNamespace (label: string): string {
  return `bench_${label}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
}

/** The hashes of a Redis namespace (see redisStore), in batches of at most 1,000 names. */
/** The namespace's project hashes, in SCAN batches; with `every`, all of its keys (retired sets, the change log too). */
async function hashesOf (client: Redis, namespace: string, every = false): Promise<string[][]> {
  const pattern = every ? `\\{fastify-anon-key:${namespace}[:}]*` : `{fastify-anon-key:${namespace}:*}:state`
  const batches: string[][] = []
  let cursor = '0'
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    if (keys.length > 0) batches.push(keys)
    cursor = next
  } while (cursor !== '0')
  return batches
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }))

/** User + system CPU seconds of a process on this machine (from /proc), or null when it cannot be read. */
function processCpuSeconds (pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
  } catch {
    return null
  }
}

export function backend (kind: StoreKind): Backend {
  if (kind === 'postgres') {
    return {
      kind,
      async connect (namespace, connections = 4) {
        // application_name tells this namespace's server processes apart (serverCpu).
        const pool = new Pool({ connectionString: DATABASE_URL, max: connections, application_name: namespace.slice(0, 63) })
        const store = postgresStore({ pool, namespace })
        const scratch = `bench_floor_${namespace}`.replace(/[^a-z0-9_]/gi, '_').slice(0, 60)
        let scratchReady: Promise<unknown> | null = null
        return {
          store,
          ping: () => pool.query('SELECT 1'),
          size: async () => Number((await pool.query('SELECT coalesce(sum(pg_column_size(t.*)), 0) AS bytes FROM anon_key_projects t WHERE namespace = $1', [namespace])).rows[0].bytes),
          serverCpu: async () => {
            const { rows } = await pool.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [namespace.slice(0, 63)])
            const processes: Record<string, number> = {}
            for (const { pid } of rows as Array<{ pid: number }>) {
              const seconds = processCpuSeconds(pid)
              if (seconds === null) return null
              processes[pid] = seconds
            }
            return { processes, note: 'the PostgreSQL server processes of this namespace\'s connections' }
          },
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
          size: async () => {
            let bytes = 0
            for (const keys of await hashesOf(client, namespace)) {
              const sizes = await Promise.all(keys.map((key) => client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0') as Promise<number | null>))
              bytes += sizes.reduce<number>((sum, size) => sum + (size ?? 0), 0)
            }
            return bytes
          },
          serverCpu: async () => {
            const info = await client.info('cpu')
            const field = (name: string): number => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? Number.NaN)
            return { processes: { redis: field('used_cpu_user') + field('used_cpu_sys') }, note: 'the whole Redis server (other clients of it included)' }
          },
          close: async () => {
            await store.close()
            // Every key of the namespace: each project's hash and retired keys, and the change log.
            for (const keys of await hashesOf(client, namespace, true)) await client.del(...keys).catch(() => {})
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
