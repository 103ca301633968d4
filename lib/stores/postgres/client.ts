import { OptionError } from '../../errors/option-errors.js'

/**
 * The part of `pg` the PostgreSQL store uses, described structurally so that `pg` stays an optional peer
 * dependency: a `pg.Pool` fits, and so does any pool with the same `query()` and `connect()`.
 */
export interface PgQueryable {
  query (text: string, values?: any[]): Promise<{ rows: any[] }>
}

/** A connection checked out of the pool (`pg.PoolClient`). */
export interface PgPoolClient extends PgQueryable {
  /** Gives the connection back; with an error or `true` the pool discards it instead. */
  release (discard?: Error | boolean): void
  on (event: string, listener: (...args: any[]) => void): unknown
  removeListener (event: string, listener: (...args: any[]) => void): unknown
}

/** A `pg.Pool`, or any pool with the same `query()` and `connect()`. */
export interface PgPool extends PgQueryable {
  connect (): Promise<PgPoolClient>
  on? (event: 'error', listener: (...args: any[]) => void): unknown
  removeListener? (event: 'error', listener: (...args: any[]) => void): unknown
}

/**
 * Runs `work` in one transaction on a connection of its own. On any failure the connection is discarded, which
 * also rolls the transaction back. While it is checked out, a connection error reaches the pending query
 * instead of crashing the process as an unhandled 'error' event.
 */
export async function inTransaction<T> (pool: PgPool, work: (client: PgQueryable) => Promise<T>): Promise<T> {
  const client = checkedOut(await pool.connect())
  const reachesQuery = (): void => {}
  client.on('error', reachesQuery)
  try {
    await client.query('BEGIN')
    const result = await work(client)
    await client.query('COMMIT')
    client.removeListener('error', reachesQuery)
    client.release()
    return result
  } catch (error) {
    client.removeListener('error', reachesQuery)
    client.release(true)
    throw error
  }
}

/**
 * What `pool.connect()` gave, refused unless it is a connection that can be released: a look-alike pool that
 * hands out something else must fail this one call, never crash the process later on a missing release().
 */
export function checkedOut (client: PgPoolClient): PgPoolClient {
  if (typeof client?.release !== 'function' || typeof client.on !== 'function' || typeof client.query !== 'function') {
    throw new OptionError.INVALID_STORE_OPTION('fastify-anon-key: postgresStore() option "pool": its connect() did not give a pooled connection (one with release()). Pass a pg.Pool, not a pg.Client.')
  }
  return client
}

/** A table name (`name` or `schema.name`) or a channel name (`name`), checked and double-quoted. */
export function quoteIdentifier (option: string, value: string, allowSchema: boolean): string {
  const parts = String(value).split('.')
  if (parts.length > (allowSchema ? 2 : 1) || !parts.every((part) => /^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(part))) {
    throw new OptionError.INVALID_STORE_OPTION(`fastify-anon-key: postgresStore() option "${option}" must be a name of letters, digits and _${allowSchema ? ' (or schema.name)' : ''}, got ${JSON.stringify(value)}.`)
  }
  return parts.map((part) => `"${part}"`).join('.')
}
