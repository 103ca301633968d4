import { Pool } from 'pg'
import { postgresStore, type PgPool } from '../lib/index.js'
import { median } from './stats.js'
import { DATABASE_URL, uniqueNamespace } from './stores.js'

/**
 * What one PostgreSQL catch-up poll costs while a transaction elsewhere in the database stays open: bytes of
 * rows it returns and its time (from sending the query to its rows), for 0, 5,000 and 20,000 rows changed
 * after that transaction began. Each row is a change committed before the store's first poll, so a poll that
 * returns only what committed since the previous one returns nothing. The store polls every 50 ms on a pool
 * that times its poll queries; 40 polls each.
 *   npx tsx bench/pg-poll.ts [--rows 0,5000,20000] [--polls 40]
 */

const argument = (name: string, fallback: string): string => {
  const at = process.argv.indexOf(`--${name}`)
  return at === -1 ? fallback : process.argv[at + 1]
}
const counts = argument('rows', '0,5000,20000').split(',').map(Number)
const pollsWanted = Number(argument('polls', '40'))

const direct = new Pool({ connectionString: DATABASE_URL, max: 4 })
const tableName = uniqueNamespace('anon_bench_poll')

interface Poll { ms: number, bytes: number, rows: number }

async function measure (rows: number): Promise<Poll[]> {
  const namespace = uniqueNamespace('poll')
  const polls: Poll[] = []
  const timed: PgPool = {
    query: async (text: string, values?: any[]) => {
      const started = performance.now()
      const result = await direct.query(text, values)
      if (text.includes('txid_current_snapshot')) {
        const changed = result.rows[0].changed as unknown[]
        polls.push({ ms: performance.now() - started, bytes: JSON.stringify(result.rows).length, rows: changed.length })
      }
      return result
    },
    connect: () => direct.connect()
  }
  const store = postgresStore({ pool: timed, namespace, tableName, catchUpMs: 50 })
  await store.load('')
  // The transaction that holds the horizon back: it took a transaction id and stays open, idle.
  const idle = await direct.connect()
  await idle.query('BEGIN')
  await idle.query('SELECT txid_current()')
  // One transaction a row, as the store writes them: each row has a transaction id of its own.
  await direct.query(`DO $$ BEGIN FOR n IN 1..${rows} LOOP
      INSERT INTO "${tableName}" (namespace, project, version, state, changed) VALUES ('${namespace}', 'tenant-' || n, 1, '{"keys":[]}'::jsonb, txid_current());
      COMMIT;
    END LOOP; END $$`)
  await direct.query(`ANALYZE "${tableName}"`)
  await store.subscribe(() => {})
  polls.length = 0
  while (polls.length < pollsWanted) await new Promise((resolve) => setTimeout(resolve, 50))
  await store.close()
  await idle.query('ROLLBACK')
  idle.release()
  return polls.slice(0, pollsWanted)
}

async function main (): Promise<void> {
  for (const rows of counts) {
    const polls = await measure(rows)
    const ms = polls.map((poll) => poll.ms)
    console.log(`${rows} rows changed since the open transaction began: ${median(polls.map((poll) => poll.bytes))} bytes and ` +
      `${median(polls.map((poll) => poll.rows))} rows per poll, median ${median(ms).toFixed(2)} ms, max ${Math.max(...ms).toFixed(2)} ms (${polls.length} polls)`)
  }
}

main().finally(async () => {
  await direct.query(`DROP TABLE IF EXISTS "${tableName}", "${tableName}_retired", "${tableName}_usage", "${tableName}_usage_keys"`)
  await direct.end()
}).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
