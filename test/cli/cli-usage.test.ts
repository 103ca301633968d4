import t, { type Test } from 'tap'
import { memoryStore, redisStore, verifyAnonKey } from '../../lib/index.js'
import { generateAnonKey } from '../../lib/stores/index.js'
import { cliApp } from '../../lib/cli/cli-app.js'
import { anonKeyError } from '../../lib/errors/codes.js'
import { runCli, storeFailure } from '../../lib/cli/main.js'
import { keyHandle } from '../../lib/conformance/index.js'
import { peer } from '../../lib/cli/open-store.js'
import { adminHeaders, assertError, bearer, JWT_SECRET } from '../helpers/app.js'
import { runInProcess } from '../helpers/cli.js'
import { onRedis, redisClient, redisNamespaces } from '../helpers/redis.js'
import { REDIS_URL } from '../helpers/services.js'
import { startTcpProxy } from '../helpers/tcp-proxy.js'

/** Runs the CLI and asserts it exits with `code` and a message on stderr matching `message`, nothing on stdout. */
async function fails (t: Test, args: string[], code: number, message: string | RegExp, env: Record<string, string> = {}): Promise<string> {
  const run = await runInProcess(args, env)
  t.equal(run.code, code, `fastify-anon-key ${args.join(' ')} exits ${code}; stderr: ${run.stderr}`)
  t.match(run.stderr, message, `fastify-anon-key ${args.join(' ')} says what is wrong`)
  t.equal(run.stdout, '', 'nothing on stdout')
  return run.stderr
}

t.test('a wrong command line exits 2 with a message naming what is wrong and what to type', async (t) => {
  await fails(t, [], 2, 'fastify-anon-key: No command given.\nRun fastify-anon-key --help. Commands: get, rotate, list, revoke, keys, token.')
  await fails(t, ['get', '--bogus'], 2, 'Unknown option \'--bogus\'.\nRun fastify-anon-key --help')
  await fails(t, ['get', '--grace-hours', '1'], 2, '--grace-hours does not apply to get.\nUsage: fastify-anon-key get')
  await fails(t, ['token', '--store', REDIS_URL], 2, '--store does not apply to token.')
  await fails(t, ['list', 'extra'], 2, 'Unexpected argument "extra" after list.')
  await fails(t, ['revoke', '0123456789ab', 'more'], 2, 'Unexpected argument "more" after revoke.')
  await fails(t, ['revoke'], 2, 'revoke needs either a fingerprint or --all, not both.')
  await fails(t, ['revoke', '0123456789ab', '--all'], 2, 'revoke needs either a fingerprint or --all, not both.')
  await fails(t, ['get', '--store'], 2, 'Option \'--store <value>\' argument missing.')
  await fails(t, ['get', '--json=yes'], 2, /does not take an argument/)
  for (const grace of ['abc', '-1', '1.5', '']) {
    await fails(t, ['rotate', `--grace-hours=${grace}`, '--store', REDIS_URL], 2, `--grace-hours must be a whole number of hours from 0 to 720, got ${JSON.stringify(grace)}.`)
  }
})

t.test('the store is named by --store, else by DATABASE_URL or REDIS_URL when only one is set', async (t) => {
  await fails(t, ['get'], 2, 'No store given.\nPass --store postgres://…, redis://… or sqlite:<path> (the store your app uses)')
  await fails(t, ['get'], 2, 'Both DATABASE_URL and REDIS_URL are set', { DATABASE_URL: 'postgres://a@127.0.0.1/x', REDIS_URL: 'redis://127.0.0.1' })
  await fails(t, ['get', '--store', 'mysql://u:pw@db/x'], 2, 'unknown scheme "mysql:" (mysql://u:***@db/x).\nUse one of postgres://…, redis://…, sqlite:<path>.')
  const stderr = await fails(t, ['get', '--store', 'not a url:pw@x'], 2, '--store must be a URL such as postgres://user@host:5432/db, redis://host:6379 or sqlite:/var/lib/app/keys.db')
  t.notMatch(stderr, ':pw@', 'a password in a malformed URL is not printed')
})

t.test('--expires-in takes 90s, 15m, 1h or 7d up to 30 days', async (t) => {
  for (const value of ['0', '31d', '1w', '1.5h', 'h', '999999999']) {
    await fails(t, ['token', '--expires-in', value], 2, `--expires-in must be a duration such as 90s, 15m, 1h or 7d, at most 30d; got ${JSON.stringify(value)}.`, { JWT_SECRET })
  }
  for (const value of ['90', '90s', '15m', '30d']) {
    const run = await runInProcess(['token', '--expires-in', value], { JWT_SECRET })
    t.equal(run.code, 0, `--expires-in ${value} is accepted; ${run.stderr}`)
  }
})

t.test('with --json an error is one JSON document on stderr: error, message, nextActions', async (t) => {
  const run = await runInProcess(['frobnicate', '--json'])
  t.equal(run.code, 2)
  t.same(JSON.parse(run.stderr), {
    error: 'INVALID_INPUT',
    message: 'Unknown command "frobnicate".',
    nextActions: 'Commands: get, rotate, list, revoke, keys, token. Run fastify-anon-key --help.'
  })
})

t.test('a store package that is not installed is named with the command that installs it', async (t) => {
  await t.rejects(peer('fastify-anon-key-no-such-driver', 'sqlite:'), {
    message: '--store sqlite://… needs the "fastify-anon-key-no-such-driver" package, which is not installed.',
    nextActions: 'Install it next to fastify-anon-key: npm install fastify-anon-key-no-such-driver'
  })
})

t.test('a failure nobody planned for (stdout closed) exits 1 with one line, never a stack', async (t) => {
  let stderr = ''
  const code = await runCli(['token'], {
    stdout: { write: () => { throw Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }) } },
    stderr: { write: (text: string) => { stderr += text } },
    env: { JWT_SECRET }
  })
  t.equal(code, 1)
  t.equal(stderr, 'fastify-anon-key: unexpected failure: Error: write EPIPE\nPlease report it with the command you ran (without secrets).\n')
})

t.test('an error without a code the CLI knows passes through as it is, to be told as an unexpected failure', async (t) => {
  const unplanned = new TypeError('something nobody planned for')
  const opened = { shown: 'redis://127.0.0.1:6379', namespace: 'default', tenant: null }
  t.equal(storeFailure(unplanned, opened), unplanned, 'a plain error is not dressed as a store failure')
  const coded = Object.assign(new Error('odd'), { code: 'FST_SOMETHING_ELSE' })
  t.equal(storeFailure(coded, opened), coded, 'an unknown code is not dressed as a store failure')
})

t.test('a store failure after start-up names its cause once; at start-up the message already holds it', async (t) => {
  const opened = { shown: 'sqlite:/var/lib/app/keys.db', namespace: 'default', tenant: null }
  const later = storeFailure(anonKeyError('STORE_UNAVAILABLE', 'The key store failed during rotate.', { cause: new Error('disk I/O error') }), opened)
  t.match(later, { exitCode: 3, message: 'The key store failed during rotate (disk I/O error); store: sqlite:/var/lib/app/keys.db.' })
  const atStart = storeFailure(anonKeyError('STORE_UNAVAILABLE', 'The key store failed during subscribe: disk I/O error', { cause: new Error('disk I/O error') }), opened)
  t.match(atStart, { message: 'The key store failed during subscribe: disk I/O error; store: sqlite:/var/lib/app/keys.db.' })
})

t.test('the plugin instance the CLI builds answers no admin request, even with an admin token, and serves no tenant', async (t) => {
  for (const tenant of [null, 'acme']) {
    const app = cliApp(memoryStore(), tenant)
    t.teardown(() => app.close())
    // A route of the host's, which the CLI never adds: in tenant mode a request to it names no tenant.
    app.get('/data', { onRequest: verifyAnonKey }, async () => ({ served: true }))
    await app.ready()
    assertError(t, await app.inject({ url: '/api/metadata/anon-key', headers: adminHeaders() }), 403, 'FORBIDDEN')
    if (tenant !== null) await app.anonKey.forTenant(tenant).initialize()
    const key = tenant === null ? null : await app.anonKey.forTenant(tenant).get()
    assertError(t, await app.inject({ url: '/data', headers: bearer(key ?? generateAnonKey()) }), 401, 'AUTH_INVALID_CREDENTIALS')
  }
})

t.test('a store that accepts connections and never answers exits 3 after the 5 s bound, never hangs', async (t) => {
  const proxy = await startTcpProxy('127.0.0.1', 9)
  t.teardown(() => proxy.close())
  proxy.cut('blackhole')
  const [redis, postgres] = await Promise.all([
    runInProcess(['get', '--store', `redis://127.0.0.1:${proxy.port}`]),
    runInProcess(['get', '--store', `postgres://postgres@127.0.0.1:${proxy.port}/test`])
  ])
  t.equal(redis.code, 3, redis.stderr)
  t.match(redis.stderr, `Redis at redis://127.0.0.1:${proxy.port} did not answer (no answer within 5000 ms).`)
  t.equal(postgres.code, 3, postgres.stderr)
  t.match(postgres.stderr, `The key store did not answer subscribe within 5000 ms; store: postgres://postgres@127.0.0.1:${proxy.port}/test.`)
})

onRedis(t, (t) => {
  const admin = redisClient(t)
  const { namespace } = redisNamespaces(t, admin)

  t.test('on a namespace without a key: get and rotate exit 1 and say how to make one; list and revoke --all have nothing', async (t) => {
    const ns = namespace('cli_empty')
    await fails(t, ['get', '--store', REDIS_URL, '--namespace', ns], 1, `No anon key yet in namespace "${ns}" of ${REDIS_URL}.\nStart the app once`)
    await fails(t, ['rotate', '--store', REDIS_URL, '--namespace', ns], 1, `The store holds no anon key yet, so there is nothing to rotate (looked in namespace "${ns}" of ${REDIS_URL}).\nStart the app once`)
    const listed = await runInProcess(['list', '--store', REDIS_URL, '--namespace', ns])
    t.same(listed, { code: 0, stdout: 'No previous key verifies.\n', stderr: '' })
    const revoked = await runInProcess(['revoke', '--all', '--store', REDIS_URL, '--namespace', ns])
    t.same(revoked, { code: 0, stdout: 'No previous key verified: nothing to revoke.\n', stderr: '' })
    const json = await runInProcess(['list', '--json'], { REDIS_URL, DATABASE_URL: '' })
    t.same(JSON.parse(json.stdout), { previousKeys: [] }, 'REDIS_URL alone names the store (an empty DATABASE_URL counts as unset)')
  })

  t.test('values the store refuses exit 2 naming the flag', async (t) => {
    await fails(t, ['get', '--store', REDIS_URL, '--namespace', 'a{b}'], 2, '--namespace "a{b}" is refused by the store: fastify-anon-key: redisStore')
    const ns = namespace('cli_grace')
    await keyHandle(redisStore({ client: admin, namespace: ns })).initialize(generateAnonKey())
    await fails(t, ['rotate', '--grace-hours', '721', '--store', REDIS_URL, '--namespace', ns], 2, '--grace-hours must be an integer from 0 to 720')
    await fails(t, ['revoke', 'ABC', '--store', REDIS_URL, '--namespace', ns], 2, 'fingerprint must be 12 lowercase hex characters')
  })

  t.test('a store holding garbage ends the command with one message and a non-zero exit, never a stack', async (t) => {
    const ns = namespace('cli_garbage')
    await admin.hset(`{fastify-anon-key:${ns}}:state`, { version: '1', current: generateAnonKey(), previous: '[{"digest":5,"rotatedAt":0,"expiresAt":1e15,"revokedAt":null}]' })
    const run = await runInProcess(['get', '--store', REDIS_URL, '--namespace', ns])
    t.not(run.code, 0, `exit code ${run.code}`)
    t.equal(run.stdout, '', 'nothing on stdout')
    t.match(run.stderr, /^fastify-anon-key: .+\n.+\n$/, 'one message and what to do next')
    t.notMatch(run.stderr, /\n\s+at /, 'no stack')
  })
})
