import type { FastifyInstance } from 'fastify'
import { Pool, type PoolConfig } from 'pg'
import type { Test } from 'tap'
import type { FastifyAnonKeyOptions } from '../../lib/index.js'
import { postgresStore } from '../../lib/stores/postgres/postgres-store.js'
import { buildApp } from './app.js'
import { DATABASE_URL, IN_CI } from './services.js'

const target = new URL(DATABASE_URL)
/** Where the real PostgreSQL listens, for a TCP proxy in front of it. */
export const PG_HOST = target.hostname
export const PG_PORT = Number(target.port === '' ? 5432 : target.port)

/** DATABASE_URL, or the same database reached through another port on 127.0.0.1 (a TCP proxy). */
export function databaseUrl (port?: number): string {
  if (port === undefined) return DATABASE_URL
  const url = new URL(DATABASE_URL)
  url.hostname = '127.0.0.1'
  url.port = String(port)
  return url.toString()
}

/** A pool on the test database (or through a proxy on `port`), ended when the test ends unless ended before. */
export function createPool (t: Test, config: PoolConfig & { port?: number } = {}): Pool {
  const { port, ...rest } = config
  const pool = new Pool({ connectionString: databaseUrl(port), ...rest })
  t.teardown(async () => { if (!pool.ending) await pool.end() })
  return pool
}

let probing: Promise<string | null> | null = null

/** Resolves to null when PostgreSQL answers, or to the reason it does not. One short attempt. */
function probe (): Promise<string | null> {
  probing ??= (async () => {
    const pool = new Pool({ connectionString: DATABASE_URL, connectionTimeoutMillis: 2000, max: 1 })
    pool.on('error', () => {})
    try {
      await pool.query('SELECT 1')
      return null
    } catch (error) {
      return (error as Error).message
    } finally {
      await pool.end()
    }
  })()
  return probing
}

/**
 * Defines the tests of a file inside one subtest that first checks PostgreSQL answers. When it does not, the
 * subtest is skipped with a message saying how to run it; under CI=true it fails instead.
 */
export function onPostgres (t: Test, define: (t: Test) => void | Promise<void>): void {
  t.test(`on PostgreSQL at ${DATABASE_URL}`, async (t) => {
    const problem = await probe()
    if (problem === null) return define(t)
    const message = `PostgreSQL is unreachable at ${DATABASE_URL} (${problem}). Start it or set DATABASE_URL (README, PostgreSQL)`
    if (IN_CI) t.fail(`${message}. CI=true: a missing database fails the run.`)
    else t.plan(0, `${message}: the PostgreSQL tests are skipped.`)
  })
}

/** Drops a table a test made (and the table of its retired keys beside it), when the test ends. */
export function dropTableAtEnd (t: Test, pool: Pool, table: string): void {
  t.teardown(() => pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_retired", "${table}_usage", "${table}_usage_keys"`))
}

/** An app on postgresStore with a pool of its own, as one instance of a deployment would be. */
export interface PgInstance {
  app: FastifyInstance
  pool: Pool
  /** Closes the app, then ends its pool: the instance is gone. */
  stop (): Promise<void>
}

export interface PgInstanceSettings {
  namespace: string
  tableName: string
  /** Reach the database through a TCP proxy on this port. */
  port?: number
  pool?: PoolConfig
  plugin?: FastifyAnonKeyOptions
}

/** Builds an instance (not ready yet); it is stopped when the test ends unless stopped before. */
export function pgInstance (t: Test, settings: PgInstanceSettings): PgInstance {
  const pool = createPool(t, { port: settings.port, ...settings.pool })
  const app = buildApp({ store: postgresStore({ pool, namespace: settings.namespace, tableName: settings.tableName }), ...settings.plugin })
  t.teardown(() => app.close())
  return {
    app,
    pool,
    async stop () {
      await app.close()
      await pool.end()
    }
  }
}

/** `count` instances started at once. */
export async function startPgInstances (t: Test, count: number, settings: PgInstanceSettings): Promise<PgInstance[]> {
  const instances = Array.from({ length: count }, () => pgInstance(t, settings))
  await Promise.all(instances.map((instance) => instance.app.ready()))
  return instances
}
