import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { postgresStore, redisStore } from '../../lib/index.js'
import { adminHeaders, assertError, buildApp, JWT_SECRET } from '../helpers/app.js'
import { runBin, runInProcess, type CliRun } from '../helpers/cli.js'
import { eventually } from '../helpers/eventually.js'
import { createPool, onPostgres } from '../helpers/postgres.js'
import { onRedis, redisClient, redisNamespaces } from '../helpers/redis.js'
import { DATABASE_URL, REDIS_URL, uniqueNamespace } from '../helpers/services.js'
import { startTenantApp, tenantFromHeader } from '../helpers/tenants.js'

// The CLI runs as a process, which loads TypeScript afresh: seconds each on a busy machine.
t.setTimeout(240_000)

/** The payload of a JWT, unverified. */
function payloadOf (token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString())
}

/** Asserts a run exited 0 and returns its stdout as JSON. */
function jsonOf (t: Test, run: CliRun, label: string): any {
  t.equal(run.code, 0, `${label} exits 0; ${run.stderr}`)
  return JSON.parse(run.stdout)
}

/**
 * A platform's break-glass on its ios key, through the CLI as processes, against the store of a running app that
 * also holds `default` and `web`: only ios changes, and the app hears each change.
 */
async function platformKey (t: Test, app: FastifyInstance, cli: (args: string[]) => Promise<CliRun>, shown: string, namespace: string): Promise<void> {
  await app.anonKey.createKey({ name: 'web', allowedOrigins: ['https://app.example.com'] })
  const ios = await app.anonKey.createKey({ name: 'ios', description: 'iOS app' })
  const before = await app.anonKey.listKeys()

  const [listed, got, unknown] = await Promise.all([cli(['keys', '--json']), cli(['get', '--name', 'ios']), cli(['get', '--name', 'android'])])
  t.same(jsonOf(t, listed, 'keys --json'), (await app.inject({ url: '/api/secrets/anon-keys', headers: adminHeaders() })).json(),
    'keys --json prints what GET /api/secrets/anon-keys answers')
  t.same(got, { code: 0, stdout: `${ios.anonKey}\n`, stderr: '' }, 'get --name ios prints the ios key alone')
  t.equal(unknown.code, 1, 'an unknown name exits 1')
  t.equal(unknown.stderr, `fastify-anon-key: No anon key is named "android" in namespace "${namespace}" of ${shown}; it has default, ios, web.\n` +
    'Pass one of those names to --name, or check --store, --namespace and --tenant.\n')

  const rotated = jsonOf(t, await cli(['rotate', '--name', 'ios', '--grace-hours', '1', '--json']), 'rotate --name ios')
  await eventually('the app to verify the new ios key', async () => (await app.anonKey.verify(rotated.anonKey)).valid, 2000)
  t.match(await app.anonKey.verify(rotated.anonKey), { valid: true, name: 'ios', expiresAt: null })
  t.match(await app.anonKey.verify(ios.anonKey), { valid: true, name: 'ios' }, 'the old ios key keeps its grace')
  const after = await app.anonKey.listKeys()
  for (const name of ['default', 'web']) {
    t.equal(after.find((key) => key.name === name)?.anonKey, before.find((key) => key.name === name)?.anonKey, `${name} is untouched`)
  }

  const previous = jsonOf(t, await cli(['list', '--name', 'ios', '--json']), 'list --name ios')
  t.same(previous.previousKeys.map((key: { fingerprint: string }) => key.fingerprint), [ios.fingerprint], 'list --name ios names the old ios key')
  t.same(jsonOf(t, await cli(['list', '--json']), 'list').previousKeys, [], 'list without --name is about default')

  const revoked = jsonOf(t, await cli(['revoke', '--name', 'ios', '--all', '--json']), 'revoke --name ios --all')
  t.same(revoked, { success: true, revoked: 1 })
  await eventually('the app to refuse the revoked ios key', async () => !(await app.anonKey.verify(ios.anonKey)).valid, 2000)
  t.match(await app.anonKey.verify(ios.anonKey), { valid: false, code: 'ANON_KEY_REVOKED' })
}

onPostgres(t, (t) => {
  t.test('get, rotate, list and revoke --name on PostgreSQL (DATABASE_URL), as processes', async (t) => {
    const namespace = uniqueNamespace('cli_names')
    const pool = createPool(t)
    const app = buildApp({ store: postgresStore({ pool, namespace }) })
    t.teardown(() => app.close())
    t.teardown(async () => {
      await pool.query('DELETE FROM anon_key_projects WHERE namespace = $1', [namespace])
      await pool.query('DELETE FROM anon_key_projects_retired WHERE namespace = $1', [namespace])
    })
    await app.ready()
    await platformKey(t, app, (args) => runBin([...args, '--namespace', namespace], { DATABASE_URL }), DATABASE_URL, namespace)
  })

  t.test('--tenant with --name acts on that tenant\'s named key; a tenant without keys is named where it was looked for', async (t) => {
    const namespace = uniqueNamespace('cli_tenant_names')
    const pool = createPool(t)
    t.teardown(async () => {
      await pool.query('DELETE FROM anon_key_projects WHERE namespace = $1', [namespace])
      await pool.query('DELETE FROM anon_key_projects_retired WHERE namespace = $1', [namespace])
    })
    const app = await startTenantApp(t, { store: postgresStore({ pool, namespace }) })
    const acme = app.anonKey.forTenant('acme')
    await acme.initialize()
    const web = await acme.createKey({ name: 'web' })
    const cli = (args: string[]) => runInProcess([...args, '--namespace', namespace], { DATABASE_URL })

    t.same(await cli(['get', '--tenant', 'acme', '--name', 'web']), { code: 0, stdout: `${web.anonKey}\n`, stderr: '' })
    const rotated = await cli(['rotate', '--tenant', 'acme', '--name', 'web', '--grace-hours', '0', '--json'])
    t.equal(rotated.code, 0, rotated.stderr)
    await eventually('the tenant app to refuse the web key cut off by the CLI', async () => !(await acme.verify(web.anonKey)).valid, 2000)
    t.equal((await acme.getKey('web')).anonKey, JSON.parse(rotated.stdout).anonKey)

    const globex = await cli(['get', '--tenant', 'globex', '--name', 'web'])
    t.equal(globex.code, 1)
    t.equal(globex.stderr, `fastify-anon-key: No anon key yet in namespace "${namespace}" of ${DATABASE_URL}, tenant "globex".\n` +
      'The app creates a tenant\'s key on its first admin request for it (or app.anonKey.forTenant(id).initialize()); else check --tenant, --store and --namespace.\n')
    const rotateNothing = await cli(['rotate', '--tenant', 'globex'])
    t.equal(rotateNothing.code, 1)
    t.match(rotateNothing.stderr, `(looked in namespace "${namespace}" of ${DATABASE_URL}, tenant "globex").\nThe app creates a tenant's key`)
  })
})

onRedis(t, (t) => {
  const admin = redisClient(t)
  const { namespace } = redisNamespaces(t, admin)

  t.test('get, rotate, list and revoke --name on Redis (--store), as processes', async (t) => {
    const ns = namespace('cli_names')
    const store = redisStore({ client: redisClient(t), namespace: ns })
    const app = buildApp({ store })
    t.teardown(async () => {
      await app.close()
      await store.close()
    })
    await app.ready()
    await platformKey(t, app, (args) => runBin([...args, '--store', REDIS_URL, '--namespace', ns]), REDIS_URL, ns)
  })
})

t.test('--name must be a key name, checked before any store is opened, and only where a key is acted on', async (t) => {
  for (const name of ['', 'Web', '1ios', 'a b', 'x'.repeat(33)]) {
    const run = await runInProcess(['rotate', '--name', name, '--store', 'sqlite:/nowhere/keys.db'])
    t.equal(run.code, 2, `--name ${JSON.stringify(name)} exits 2`)
    t.match(run.stderr, `--name must be a key name: a lowercase letter, then up to 31 lowercase letters, digits, _ or -; got ${JSON.stringify(name)}.\nRun fastify-anon-key keys`)
  }
  for (const command of ['keys', 'token']) {
    const run = await runInProcess([command, '--name', 'web'], { JWT_SECRET })
    t.match(run, { code: 2, stderr: `--name does not apply to ${command}.` })
  }
})

t.test('token --tenant signs an admin of that tenant for the isAdmin of docs/tenants.md, and --claim adds claims', async (t) => {
  const run = await runBin(['token', '--tenant', 'acme', '--claim', 'team=ops', '--claim', 'scope=https://example.com/a?b=c', '--json'], { JWT_SECRET })
  const { token } = jsonOf(t, run, 'token --tenant acme')
  t.match(payloadOf(token), { role: 'project_admin', sub: 'cli', project: 'acme', team: 'ops', scope: 'https://example.com/a?b=c' })
  // The isAdmin of docs/tenants.md: an admin of the project its token names.
  const app = await startTenantApp(t, { isAdmin: (payload: any, request) => payload.role === 'project_admin' && payload.project === tenantFromHeader(request) })
  const answer = await app.inject({ url: '/api/secrets/anon-keys', headers: { 'x-tenant': 'acme', authorization: `Bearer ${token}` } })
  t.equal(answer.statusCode, 200, `an admin of acme reads acme's keys; ${answer.body}`)
  assertError(t, await app.inject({ url: '/api/secrets/anon-keys', headers: { 'x-tenant': 'globex', authorization: `Bearer ${token}` } }), 403, 'FORBIDDEN')
})

t.test('--claim: role and sub may be replaced; a malformed claim, one given twice or one a flag sets is refused', async (t) => {
  const signed = async (args: string[]) => payloadOf(JSON.parse((await runInProcess(['token', '--json', ...args], { JWT_SECRET })).stdout).token)
  t.match(await signed(['--claim', 'role=service_role']), { role: 'service_role', sub: 'cli' }, 'role=… replaces project_admin')
  t.match(await signed(['--claim', 'sub=deploy-bot', '--claim', 'empty=']), { sub: 'deploy-bot', empty: '' }, 'sub=… without --sub; an empty value is a value')
  t.match(await signed(['--claim', '__proto__=x']), { role: 'project_admin' }, 'a claim named __proto__ changes nothing else')
  const refused: Array<[string[], string]> = [
    [['--claim', 'team'], '--claim must be key=value, got "team".'],
    [['--claim', '=ops'], '--claim must be key=value, got "=ops".'],
    [['--claim', 'a b=c'], '--claim must be key=value, got "a b=c".'],
    [['--claim', 'team=a', '--claim', 'team=b'], '--claim team= is given twice.'],
    [['--sub', 'x', '--claim', 'sub=y'], '--claim sub= conflicts with --sub.'],
    [['--tenant', 'acme', '--claim', 'project=globex'], '--claim project= conflicts with --tenant.'],
    [['--claim', 'exp=99999999999'], '--claim exp= conflicts with --expires-in.'],
    [['--claim', 'iat=0'], '--claim iat= conflicts with --expires-in.']
  ]
  for (const [args, message] of refused) {
    const run = await runInProcess(['token', ...args], { JWT_SECRET })
    t.equal(run.code, 2, `token ${args.join(' ')} exits 2`)
    t.match(run.stderr, message)
    t.equal(run.stdout, '', 'no token is printed')
  }
})
