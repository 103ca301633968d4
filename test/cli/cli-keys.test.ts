import { writeFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import { sqliteStore } from '../../lib/index.js'
import { fingerprintOf } from '../../lib/stores/index.js'
import { openSqliteFile } from '../../lib/cli/open-sqlite.js'
import { adminHeaders, buildApp } from '../helpers/app.js'
import { runBin, runInProcess } from '../helpers/cli.js'
import { eventually } from '../helpers/eventually.js'
import { openDatabase, sqliteFile } from '../helpers/sqlite.js'

// Two cases start the CLI as a process, which loads TypeScript afresh: seconds each on a busy machine.
t.setTimeout(120_000)

const WHOLE_KEY = /anon_[0-9a-f]{64}/

/** An app on a new SQLite file, ready, closed when the test ends; `store` is what to pass to the CLI. */
async function appOnFile (t: Test, options: Parameters<typeof buildApp>[0] = {}) {
  const file = sqliteFile(t)
  const app = buildApp({ store: sqliteStore({ database: openDatabase(t, file) }), ...options })
  t.teardown(() => app.close())
  await app.ready()
  return { app, store: `sqlite:${file}` }
}

t.test('keys lists the named keys by name, fingerprint, restrictions and description, and prints no key', async (t) => {
  const { app, store } = await appOnFile(t, { attestation: { verify: () => true } })
  await app.anonKey.createKey({ name: 'web', description: 'Web app', allowedOrigins: ['https://app.example.com', 'https://*.example.org'] })
  await app.anonKey.createKey({ name: 'ios' })
  await app.anonKey.createKey({ name: 'iphone', allowedApps: { ios: ['com.example.phone'] } })
  await app.anonKey.createKey({ name: 'pixel', allowedApps: { android: [{ packageName: 'com.example.pixel', certSha1: 'e'.repeat(40) }] } })
  await app.anonKey.createKey({
    name: 'mobile',
    allowedOrigins: ['https://m.example.com'],
    allowedApps: { android: [{ packageName: 'com.example.app', certSha1: 'f'.repeat(40) }], ios: ['com.example.app'] },
    requireAttestation: true,
    rateLimit: { max: 100, timeWindowMs: 60000 }
  })
  await app.anonKey.rotate({ name: 'web', gracePeriodHours: 1 })
  const keys = await app.anonKey.listKeys()
  const fingerprint = (name: string) => fingerprintOf(keys.find((key) => key.name === name)?.anonKey as string)

  const run = await runBin(['keys', '--store', store])
  t.equal(run.code, 0, `keys exits 0; ${run.stderr}`)
  t.equal(run.stdout, [
    `default  ${fingerprint('default')}  any origin`,
    `ios      ${fingerprint('ios')}  any origin`,
    `iphone   ${fingerprint('iphone')}  ios:com.example.phone`,
    `mobile   ${fingerprint('mobile')}  https://m.example.com,android:com.example.app,ios:com.example.app  attestation  100 per 60000 ms`,
    `pixel    ${fingerprint('pixel')}  android:com.example.pixel`,
    `web      ${fingerprint('web')}  https://app.example.com,https://*.example.org  Web app`
  ].join('\n') + '\n')
  t.notMatch(run.stdout + run.stderr, WHOLE_KEY, 'no key is printed, current or previous')

  const json = await runInProcess(['keys', '--json', '--store', store])
  const overHttp = await app.inject({ url: '/api/secrets/anon-keys', headers: adminHeaders() })
  t.same(JSON.parse(json.stdout), overHttp.json(), 'keys --json prints what GET /api/secrets/anon-keys answers')
  const previous = [...json.stdout.matchAll(new RegExp(WHOLE_KEY, 'g'))].map(([key]) => key).filter((key) => !keys.some((named) => named.anonKey === key))
  t.same(previous, [], 'the JSON holds the current keys, as the route does, never a previous one')
})

t.test('keys on a namespace without a key says where it looked and exits 0', async (t) => {
  const { store } = await appOnFile(t, { autoInitialize: false })
  t.same(await runInProcess(['keys', '--store', store]), { code: 0, stdout: `No anon key yet in namespace "default" of ${store}.\n`, stderr: '' })
})

t.test('--tenant acts on that tenant\'s keys, and the tenant-mode app on the file hears the change', async (t) => {
  const { app, store } = await appOnFile(t, { tenant: (request) => request.headers['x-tenant'] as string, authorize: () => true })
  const acme = app.anonKey.forTenant('acme')
  const { anonKey: first } = await acme.initialize()

  const got = await runBin(['get', '--tenant', 'acme', '--store', store])
  t.same(got, { code: 0, stdout: `${first}\n`, stderr: '' }, 'get --tenant prints that tenant\'s key')
  const rotated = await runInProcess(['rotate', '--tenant', 'acme', '--grace-hours', '0', '--json', '--store', store])
  t.equal(rotated.code, 0, rotated.stderr)
  await eventually('the app to refuse the tenant\'s key cut off by the CLI', async () => !(await acme.verify(first)).valid, 2000)
  t.equal(await acme.get(), JSON.parse(rotated.stdout).anonKey, 'the app serves the tenant\'s new key')

  const other = await runInProcess(['get', '--tenant', 'globex', '--store', store])
  t.equal(other.code, 1, 'a tenant without a key exits 1')
  t.match(other.stderr, `No anon key yet in namespace "default" of ${store}, tenant "globex".\nThe app creates a tenant's key on its first admin request for it`)
  const listed = await runInProcess(['keys', '--tenant', 'acme', '--json', '--store', store])
  t.same(JSON.parse(listed.stdout).anonKeys.map((key: { name: string }) => key.name), ['default'])
})

t.test('--tenant must be a tenant id, for a store command and for token', async (t) => {
  for (const tenant of ['', 'a b', 'x'.repeat(65), 'ümlaut']) {
    for (const command of [['get', '--store', 'sqlite:/nowhere/keys.db'], ['token']]) {
      const run = await runInProcess([...command, '--tenant', tenant], { JWT_SECRET: 'x' })
      t.equal(run.code, 2, `${command[0]} --tenant ${JSON.stringify(tenant)} exits 2`)
      t.match(run.stderr, `--tenant must be a tenant id of 1 to 64 characters from [A-Za-z0-9._-], got ${JSON.stringify(tenant)}.`)
    }
  }
})

t.test('a sqlite: store must name an existing SQLite file', async (t) => {
  for (const url of ['sqlite:', 'sqlite://host/keys.db', 'sqlite:///']) {
    const run = await runInProcess(['get', '--store', url])
    t.match(run, { code: 2, stderr: /names no file\.\nWrite sqlite:\/absolute\/path\/keys\.db/ }, url)
  }
  const missing = await runInProcess(['get', '--store', 'sqlite:/nowhere/keys.db'])
  t.match(missing, { code: 2, stderr: /--store sqlite:\/nowhere\/keys\.db: there is no such file\.\nPoint --store at the database file your app opens/ })

  const garbage = sqliteFile(t)
  writeFileSync(garbage, 'not a database, but a file that holds some text')
  const run = await runInProcess(['get', '--store', `sqlite:${garbage}`])
  t.equal(run.code, 3, `a file that is no database exits 3; ${run.stderr}`)
  t.match(run.stderr, /^fastify-anon-key: The key store failed during subscribe: file is not a database; store: sqlite:\/.*\/keys\.db\.\n/)
})

t.test('without better-sqlite3 and node:sqlite, the CLI says what to install', async (t) => {
  const file = sqliteFile(t)
  writeFileSync(file, '')
  await t.rejects(openSqliteFile(file, [{ module: 'fastify-anon-key-no-such-driver', constructor: 'default' }, { module: 'fastify-anon-key-nor-this', constructor: 'X' }]), {
    message: '--store sqlite:… needs a SQLite driver, and neither fastify-anon-key-no-such-driver nor fastify-anon-key-nor-this is available here.',
    nextActions: /npm install better-sqlite3@12, then npm install-scripts approve better-sqlite3\), or run Node 22\.13 or later/
  })
})
