import { postgresStore } from '../stores/postgres/postgres-store.js'
import { redisStore } from '../stores/redis/redis-store.js'
import { sqliteStore } from '../stores/sqlite/sqlite-store.js'
import type { AnonKeyStore } from '../stores/interface.js'
import { CliError, EXIT, usageError } from './cli-error.js'
import { maskStoreString } from './mask-passwords.js'
import { openSqliteFile, sqlitePath } from './open-sqlite.js'

/** How long the CLI waits to connect to a store before it calls it down, in ms. */
export const CONNECT_TIMEOUT_MS = 5000

/** The store string the CLI was given, and where it came from, for messages. */
export interface StoreSource {
  text: string
  /** `--store`, `DATABASE_URL` or `REDIS_URL`. */
  from: string
}

/** A store the CLI opened from a URL, with what it opened to reach it. */
export interface OpenedStore {
  store: AnonKeyStore
  /** The URL with its passwords masked, for messages. */
  shown: string
  /** Closes the store, then the pool or client made for it. */
  close (): Promise<void>
}

type Opener = (url: URL, namespace: string | undefined, shown: string) => Promise<Omit<OpenedStore, 'shown'>>

/** One entry per URL scheme; a new store is one more entry. */
const OPENERS: Record<string, Opener> = {
  'postgres:': openPostgres,
  'postgresql:': openPostgres,
  'redis:': openRedis,
  'rediss:': openRedis,
  'sqlite:': openSqlite
}

/** The URL schemes the CLI knows, for --help and for messages. */
export const STORE_SCHEMES = ['postgres://…', 'redis://…', 'sqlite:<path>']

/** Characters of a password that a URL must carry percent-encoded. */
const ENCODE_IN_PASSWORD = 'Percent-encode the password\'s special characters (/ %2F, ? %3F, # %23, @ %40, : %3A, % %25, a blank %20), as your app\'s own URL must.'

/** The store a URL names: postgres://… through a pg Pool, redis://… through an ioredis client, sqlite:<path> through a SQLite driver. */
export async function openStore ({ text, from }: StoreSource, namespace: string | undefined): Promise<OpenedStore> {
  const shown = maskStoreString(text)
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw usageError(`${from} must be a URL such as postgres://user@host:5432/db, redis://host:6379 or sqlite:/var/lib/app/keys.db, got ${JSON.stringify(shown)}.`,
      shown === text ? 'Run fastify-anon-key --help for the commands and options.' : ENCODE_IN_PASSWORD)
  }
  // What a parser read with no password although the text holds one (postgres://u:12/34@host reads as the host u,
  // port 12) would connect somewhere else: say so instead.
  if (url.password === '' && shown !== text && /^[a-z][a-z0-9+.-]*:\/\/[^@]*:/i.test(text)) {
    throw usageError(`${from} holds a password that the URL does not read as one: ${shown}.`, ENCODE_IN_PASSWORD)
  }
  const opener = OPENERS[url.protocol]
  if (opener === undefined) {
    throw usageError(`${from} has the unknown scheme "${url.protocol}" (${shown}).`, `Use one of ${STORE_SCHEMES.join(', ')}.`)
  }
  return { ...await opener(url, namespace, shown), shown }
}

/**
 * Loads an optional peer dependency, or says which package to install. import() of a CommonJS package may
 * give its exports only as `default`; both shapes are accepted.
 */
export async function peer<T> (name: string, scheme: string): Promise<T> {
  let loaded: any
  try {
    loaded = await import(name)
  } catch {
    throw usageError(`--store ${scheme}//… needs the "${name}" package, which is not installed.`, `Install it next to fastify-anon-key: npm install ${name}`)
  }
  return { ...loaded.default, ...loaded }
}

/**
 * The store `make` builds on the pool, client or database an opener opened, closed with it: the store first, then
 * `release`. A store factory's complaint about the namespace (the one option the CLI passes) becomes a usage
 * error, after `release`.
 */
function storeOn (namespace: string | undefined, make: () => AnonKeyStore, release: () => unknown): Omit<OpenedStore, 'shown'> {
  let store: AnonKeyStore
  try {
    store = make()
  } catch (error) {
    release()
    throw usageError(`--namespace ${JSON.stringify(namespace)} is refused by the store: ${(error as Error).message}`, 'Use the namespace your app passes to its store (default: "default").')
  }
  return {
    store,
    async close () {
      await store.close()
      await release()
    }
  }
}

async function openPostgres (url: URL, namespace: string | undefined): Promise<Omit<OpenedStore, 'shown'>> {
  const { Pool } = await peer<typeof import('pg')>('pg', url.protocol)
  // Room for the store's listening connection beside its queries. The plugin's storeTimeoutMs
  // (CONNECT_TIMEOUT_MS) answers first for a server that does not answer; pg gives up a little later.
  const pool = new Pool({ connectionString: url.toString(), max: 3, connectionTimeoutMillis: CONNECT_TIMEOUT_MS + 1000 })
  pool.on('error', () => {})
  return storeOn(namespace, () => postgresStore({ pool, namespace }), () => pool.end())
}

async function openRedis (url: URL, namespace: string | undefined, shown: string): Promise<Omit<OpenedStore, 'shown'>> {
  const { Redis } = await peer<typeof import('ioredis')>('ioredis', url.protocol)
  // No retry of a command: a CLI reports a Redis that went away (exit 3) instead of retrying behind the user's back.
  const client = new Redis(url.toString(), { lazyConnect: true, connectTimeout: CONNECT_TIMEOUT_MS, maxRetriesPerRequest: 0 })
  client.on('error', () => {})
  const failure = await connectOrExplain(client)
  if (failure !== null) {
    client.disconnect()
    throw new CliError('STORE_UNAVAILABLE', EXIT.STORE_UNAVAILABLE, `Redis at ${shown} did not answer (${failure}).`,
      'Check that Redis runs and that the URL (host, port, password, database) is right.')
  }
  return storeOn(namespace, () => redisStore({ client, namespace }), () => client.disconnect())
}

/**
 * Connects, and resolves to null, or to why not: the first 'error' (connect() itself only says "Connection is
 * closed."), or no answer within CONNECT_TIMEOUT_MS (ioredis's connectTimeout ends when TCP connects, and a
 * server that accepts and never answers would hold the ready check forever).
 */
async function connectOrExplain (client: import('ioredis').Redis): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await new Promise<string | null>((resolve) => {
      timer = setTimeout(() => resolve(`no answer within ${CONNECT_TIMEOUT_MS} ms`), CONNECT_TIMEOUT_MS)
      client.once('error', (error: Error) => resolve(error.message))
      client.connect().then(() => resolve(null), () => resolve('connection closed'))
    })
  } finally {
    clearTimeout(timer)
  }
}

async function openSqlite (url: URL, namespace: string | undefined, shown: string): Promise<Omit<OpenedStore, 'shown'>> {
  const database = await openSqliteFile(sqlitePath(url, shown))
  return storeOn(namespace, () => sqliteStore({ database, namespace }), () => database.close())
}
