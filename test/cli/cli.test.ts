import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { postgresStore, redisStore, sqliteStore } from '../../lib/index.js'
import { fingerprintOf } from '../../lib/stores/index.js'
import { assertError, buildApp, currentKey, JWT_SECRET, useKey } from '../helpers/app.js'
import { runBin, runInProcess, type CliRun } from '../helpers/cli.js'
import { freePort } from '../helpers/free-port.js'
import { createPool, onPostgres } from '../helpers/postgres.js'
import { onRedis, redisClient, redisNamespaces } from '../helpers/redis.js'
import { DATABASE_URL, REDIS_URL, uniqueNamespace } from '../helpers/services.js'
import { eventually } from '../helpers/eventually.js'
import { openDatabase, sqliteFile } from '../helpers/sqlite.js'

// The CLI starts as a process that loads TypeScript afresh, seconds each on a busy machine: the Redis session and
// the cases below run it so; the PostgreSQL session calls the same entry in this process.
t.setTimeout(240_000)

const WHOLE_KEY = /anon_[0-9a-f]{64}/g

/** Asserts that the CLI printed no key but `allowed` (never a previous key), on stdout or stderr. */
function printsOnly (t: Test, run: { stdout: string, stderr: string }, allowed: string[] = []): void {
  const printed = [...`${run.stdout}${run.stderr}`.matchAll(WHOLE_KEY)].map((match) => match[0])
  t.same(printed.filter((key) => !allowed.includes(key)), [], 'the CLI prints no key but the current one it was asked for')
}

t.test('--help lists the commands and exits 0 without touching a store', async (t) => {
  const run = await runBin(['--help'])
  t.equal(run.code, 0, `exit code 0; ${run.stderr}`)
  for (const command of ['get [--name NAME]', 'rotate [--name NAME] [--grace-hours N]', 'list [--name NAME]', 'revoke [--name NAME] <fingerprint> | --all', 'keys', 'token [--sub ID] [--tenant ID] [--claim K=V]', '--tenant ID', '--name NAME', 'sqlite:<path>']) t.match(run.stdout, command)
  t.match(run.stdout, /Exit codes: 0 done; 1 .*; 2 .*; 3 /s)
  t.equal(run.stderr, '')
})

t.test('an unknown command exits 2 with a message that lists the commands', async (t) => {
  const run = await runBin(['rotat'])
  t.equal(run.code, 2, 'exit code 2')
  t.equal(run.stdout, '', 'nothing on stdout')
  t.match(run.stderr, 'fastify-anon-key: Unknown command "rotat".\nCommands: get, rotate, list, revoke, keys, token.')
})

t.test('token signs an admin JWT from JWT_SECRET that the plugin\'s admin routes accept, and needs JWT_SECRET', async (t) => {
  const [run, unsigned] = await Promise.all([runBin(['token', '--sub', 'ops-oncall', '--expires-in', '15m', '--json'], { JWT_SECRET }), runBin(['token'])])
  t.equal(run.code, 0, run.stderr)
  const { token, expiresAt } = JSON.parse(run.stdout)
  const lifetime = Date.parse(expiresAt) - Date.now()
  t.ok(lifetime > 13 * 60_000 && lifetime <= 15 * 60_000, `expires in 15 minutes (${expiresAt})`)
  const app = buildApp()
  t.teardown(() => app.close())
  const answer = await app.inject({ url: '/api/metadata/anon-key', headers: { authorization: `Bearer ${token}` } })
  t.equal(answer.statusCode, 200, answer.body)
  let actor: string | null = null
  app.anonKey.on('rotated', (event) => { actor = event.actor })
  await app.inject({ method: 'POST', url: '/api/secrets/anon-key/rotate', headers: { authorization: `Bearer ${token}` } })
  t.equal(actor, 'ops-oncall', 'the token\'s subject is the actor of the audit event')
  t.equal(unsigned.code, 2, 'without JWT_SECRET token exits 2')
  t.match(unsigned.stderr, /JWT_SECRET is not set/)
})

t.test('a store that is down exits 3 with a message naming the store, without its password', async (t) => {
  const port = await freePort()
  const stores = [`redis://:hunter2@127.0.0.1:${port}`, `postgres://postgres:hunter2@127.0.0.1:${port}/test`]
  const runs = await Promise.all(stores.map((store) => runBin(['get', '--store', store])))
  for (const [index, store] of stores.entries()) {
    const run = runs[index]
    t.equal(run.code, 3, `${store}: ${run.stderr}`)
    t.match(run.stderr, /ECONNREFUSED/)
    t.match(run.stderr, `127.0.0.1:${port}`)
    t.notMatch(run.stderr, 'hunter2', 'the password is never printed')
  }
})

/** The commands of a break-glass session, against the store of a running app. */
async function breakGlass (t: Test, app: FastifyInstance, cli: (args: string[]) => Promise<CliRun>): Promise<void> {
  const first = await currentKey(app)
  const got = await cli(['get'])
  t.equal(got.code, 0, `get exits 0; ${got.stderr}`)
  t.equal(got.stdout, `${first}\n`, 'get prints the current key alone')

  const rotated = await cli(['rotate', '--grace-hours', '1', '--json'])
  t.equal(rotated.code, 0, `rotate exits 0; ${rotated.stderr}`)
  const result = JSON.parse(rotated.stdout)
  t.same(Object.keys(result).sort(), ['anonKey', 'message', 'oldKeyExpiresAt', 'success'], 'rotate --json prints the rotate answer of the API')
  printsOnly(t, rotated, [result.anonKey])
  await eventually('the running app to hear of the rotation', async () => (await app.anonKey.verify(result.anonKey)).valid, 2000)
  t.equal(await currentKey(app), result.anonKey, 'the running app serves the key the CLI made')

  const listed = await cli(['list'])
  t.equal(listed.code, 0, `list exits 0; ${listed.stderr}`)
  t.match(listed.stdout, new RegExp(`^${fingerprintOf(first)}  rotated .* expires .* 0 requests, last never\n$`), 'list names the previous key by fingerprint')
  printsOnly(t, listed)
  t.notMatch(listed.stdout, first.slice(5, 30), 'no part of the previous key beyond the fingerprint is printed')

  const revoked = await cli(['revoke', fingerprintOf(first)])
  t.equal(revoked.code, 0, `revoke exits 0; ${revoked.stderr}`)
  t.equal(revoked.stdout, `Revoked 1: ${fingerprintOf(first)}\n`)
  await eventually('the running app to refuse the revoked key', async () => (await useKey(app, first)).statusCode === 401, 2000)
  assertError(t, await useKey(app, first), 401, 'ANON_KEY_REVOKED')

  const again = await cli(['revoke', fingerprintOf(first), '--json'])
  t.equal(again.code, 1, 'revoking a key that no longer verifies exits 1')
  t.same(Object.keys(JSON.parse(again.stderr)).sort(), ['error', 'message', 'nextActions'])
  t.equal(JSON.parse(again.stderr).error, 'NOT_FOUND')

  const cut = await cli(['rotate', '--grace-hours', '0'])
  t.equal(cut.code, 0, `rotate --grace-hours 0 exits 0; ${cut.stderr}`)
  t.match(cut.stdout, /The old key stopped working immediately\.\nThe old key \(fingerprint [0-9a-f]{12}\) no longer verifies \(since [0-9TZ:.-]+\)\.\n$/)
  await eventually('the running app to refuse the key cut off with 0 h', async () => (await useKey(app, result.anonKey)).statusCode === 401, 2000)

  const all = await cli(['revoke', '--all', '--json'])
  t.equal(all.code, 0, `revoke --all exits 0; ${all.stderr}`)
  t.same(JSON.parse(all.stdout), { success: true, revoked: 0 }, 'nothing left to revoke: the 0 h key already stopped')
}

t.test('get, rotate, list and revoke on a SQLite file (--store sqlite:<path>), as processes; the app on the file hears every change', async (t) => {
  const file = sqliteFile(t)
  const app = buildApp({ store: sqliteStore({ database: openDatabase(t, file) }) })
  t.teardown(() => app.close())
  await app.ready()
  await breakGlass(t, app, (args) => runBin([...args, '--store', `sqlite:${file}`]))
})

onPostgres(t, (t) => {
  t.test('get, rotate, list and revoke on PostgreSQL (DATABASE_URL), in process; the running app hears every change', async (t) => {
    const namespace = uniqueNamespace('cli_pg')
    const pool = createPool(t)
    const app = buildApp({ store: postgresStore({ pool, namespace }) })
    t.teardown(() => app.close())
    await app.ready()
    t.teardown(async () => {
      await pool.query('DELETE FROM anon_key_projects WHERE namespace = $1', [namespace])
      await pool.query('DELETE FROM anon_key_projects_retired WHERE namespace = $1', [namespace])
    })
    await breakGlass(t, app, (args) => runInProcess([...args, '--namespace', namespace], { DATABASE_URL }))
  })
})

onRedis(t, (t) => {
  const admin = redisClient(t)
  const { namespace } = redisNamespaces(t, admin)

  t.test('get, rotate, list and revoke on Redis (--store), as processes; the running app hears every change', async (t) => {
    const ns = namespace('cli_redis')
    const store = redisStore({ client: redisClient(t), namespace: ns })
    const app = buildApp({ store })
    t.teardown(async () => {
      await app.close()
      await store.close()
    })
    await app.ready()
    await breakGlass(t, app, (args) => runBin([...args, '--store', REDIS_URL, '--namespace', ns]))
  })
})
