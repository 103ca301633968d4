// The anon key in PostgreSQL, for a service that runs as several processes or machines: every copy of this
// program pointed at the same database (and namespace) serves the same key, and a rotation made through any of
// them reaches the others through LISTEN/NOTIFY. The table is created on first use.
// Run with: DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx examples/postgres.ts
// then, in a second terminal, the same with PORT=3005 to watch two instances agree.
import Fastify, { type FastifyInstance } from 'fastify'
import { Pool } from 'pg'
import anonKey, { postgresStore, verifyAnonKey } from '../lib/index.js'
import { closeOnSignals, devAdminToken, envOr, jwtSecretFromEnv, listen, portFromEnv } from './dev-admin.js'

/** One instance of the service on `pool`. The pool stays the caller's: the app never ends it. */
export async function build (jwtSecret: string, pool: Pool, namespace: string): Promise<FastifyInstance> {
  const app = Fastify()
  // Keys in the tables anon_key_projects (one row a project of the namespace) and anon_key_projects_retired;
  // notifications on the channel anon_key_changes.
  const store = postgresStore({ pool, namespace })
  // storeTimeoutMs: if the database stops answering, admin routes answer 503 after 2 s; verification goes on from memory.
  await app.register(anonKey, { jwt: { secret: jwtSecret }, store, storeTimeoutMs: 2000 })
  // The store checks out one pool connection for LISTEN: release it with the app.
  app.addHook('onClose', () => store.close())
  app.get('/hello', { onRequest: verifyAnonKey }, async (request) => ({ servedBy: process.pid, key: request.anonKey }))
  return app
}

async function main (): Promise<void> {
  const jwtSecret = jwtSecretFromEnv()
  const databaseUrl = envOr('DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/test')
  // connectionTimeoutMillis: a database that does not answer fails a query instead of queueing it forever.
  const pool = new Pool({ connectionString: databaseUrl, connectionTimeoutMillis: 2000 })
  const namespace = envOr('ANON_KEY_NAMESPACE', 'example')
  const app = await build(jwtSecret, pool, namespace)
  app.addHook('onClose', async () => { await pool.end() })
  const base = await listen(app, portFromEnv(3004))
  closeOnSignals(app)
  const token = devAdminToken(jwtSecret)
  console.log(`PostgreSQL example listening on ${base}, key of namespace "${namespace}" in table anon_key_projects of ${new URL(databaseUrl).pathname.slice(1)}`)
  if (token !== null) {
    console.log(`
  export TOKEN=${token}
  curl -s ${base}/api/metadata/anon-key -H "Authorization: Bearer $TOKEN"
  curl -s -X POST ${base}/api/secrets/anon-key/rotate -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"gracePeriodHours":0}'
A copy started with another PORT (3005, say) serves the same key, and stops accepting the old one as soon as this one rotates.
`)
  }
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error)
    process.exit(1)
  })
}
