import { createSigner } from 'fast-jwt'
import { spawnSync } from 'node:child_process'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { build as buildAuditLog, type AuditEntry } from '../../examples/audit-log.js'
import { build as buildAuthStrategies } from '../../examples/auth-strategies.js'
import { build as buildBasic } from '../../examples/basic.js'
import { portFromEnv } from '../../examples/dev-admin.js'
import { build as buildServer } from '../../examples/server.js'
import { build as buildTwoInstances } from '../../examples/two-instances.js'
import { memoryStore } from '../../lib/index.js'
import { fingerprintOf } from '../../lib/stores/index.js'
import { adminHeaders, bearer, JWT_SECRET } from '../helpers/app.js'
import { runExampleScript } from '../helpers/example-script.js'
import { sqliteFile } from '../helpers/sqlite.js'

type Teardown = { teardown: (fn: () => unknown) => void }

// Seven examples start as scripts here, each loading TypeScript afresh: more than the default 30 s on a busy machine.
t.setTimeout(240_000)

const USER_JWT_SECRET = 'user-secret-that-is-long-enough-for-hs256'
const WHOLE_KEY = /anon_[0-9a-f]{64}/
const ANY_DIGEST = /[0-9a-f]{64}/

async function ready<T extends FastifyInstance> (t: Teardown, app: T): Promise<T> {
  t.teardown(() => app.close())
  await app.ready()
  return app
}

async function keyOf (app: FastifyInstance): Promise<string> {
  const response = await app.inject({ url: '/api/metadata/anon-key', headers: adminHeaders() })
  return response.json().anonKey
}

async function rotateThrough (app: FastifyInstance, gracePeriodHours: number, sub = 'admin-1'): Promise<string> {
  const response = await app.inject({
    method: 'POST',
    url: '/api/secrets/anon-key/rotate',
    headers: { ...adminHeaders({ sub }), 'content-type': 'application/json' },
    payload: JSON.stringify({ gracePeriodHours })
  })
  if (response.statusCode !== 200) throw new Error(`rotation answered ${response.statusCode}: ${response.body}`)
  return response.json().anonKey
}

/** Asks until the answer has the expected status: another instance hears of a change asynchronously. Bounded. */
async function eventuallyStatus (ask: () => Promise<{ statusCode: number, json: () => any }>, status: number) {
  let answer = await ask()
  for (let attempt = 0; attempt < 200 && answer.statusCode !== status; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 10))
    answer = await ask()
  }
  return answer
}

t.test('basic: a frontend with the anon key reads the public routes, without it gets 401', async (t) => {
  const app = await ready(t, await buildBasic(JWT_SECRET))
  const key = await keyOf(app)

  const withKey = await app.inject({ url: '/public/todos', headers: bearer(key) })
  t.equal(withKey.statusCode, 200)
  t.equal(withKey.json().role, 'anon')
  const whoami = await app.inject({ url: '/whoami', headers: bearer(key) })
  t.same(whoami.json(), { role: 'anon', name: 'default', fingerprint: fingerprintOf(key), expiresAt: null })

  const without = await app.inject({ url: '/public/todos' })
  t.equal(without.statusCode, 401)
  t.equal(without.json().error, 'AUTH_INVALID_CREDENTIALS')
})

t.test('basic, run as a script: prints a working admin token and curl lines, stops cleanly on SIGTERM', async (t) => {
  const run = runExampleScript(t, 'basic.ts')
  const [, base] = await run.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/)
  const [, token] = await run.waitFor(/export TOKEN=(\S+)/)
  const answer = await fetch(`${base}/api/metadata/anon-key`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(answer.status, 200)
  const { anonKey: key } = await answer.json() as { anonKey: string }
  t.match(run.output(), `curl -s ${base}/public/todos`)
  t.equal((await fetch(`${base}/public/todos`, { headers: bearer(key) })).status, 200)
  t.equal(await run.stop(), 0, 'exit code 0 after SIGTERM')
})

t.test('two instances: a rotation through one is seen by the other, and a revocation too', async (t) => {
  const store = memoryStore()
  const [a, b] = await buildTwoInstances(JWT_SECRET, store)
  t.teardown(async () => { await a.close(); await b.close(); await store.close() })
  const first = await keyOf(a)
  t.equal(await keyOf(b), first, 'both start with one and the same key')

  const second = await rotateThrough(a, 1)
  t.equal(await keyOf(b), second, 'b answers the key a made')
  const onB = await eventuallyStatus(() => b.inject({ url: '/hello', headers: bearer(second) }), 200)
  t.equal(onB.statusCode, 200, 'b accepts the new key')
  t.equal(onB.json().servedBy, 'b')
  t.equal((await b.inject({ url: '/hello', headers: bearer(first) })).statusCode, 200, 'b still accepts the old key during its grace')

  await rotateThrough(b, 0)
  const cutOff = await eventuallyStatus(() => a.inject({ url: '/hello', headers: bearer(second) }), 401)
  t.equal(cutOff.json().error, 'ANON_KEY_EXPIRED', 'a refuses the key b rotated with a grace of 0')

  const revoked = await a.inject({ method: 'DELETE', url: '/api/secrets/anon-key/previous', headers: adminHeaders() })
  t.equal(revoked.json().revoked, 1, 'a revokes the first key, still in its grace')
  const refused = await eventuallyStatus(() => b.inject({ url: '/hello', headers: bearer(first) }), 401)
  t.equal(refused.json().error, 'ANON_KEY_REVOKED', 'b refuses the key a revoked')
})

t.test('two instances, run as a script: both answer the same key', async (t) => {
  const run = runExampleScript(t, 'two-instances.ts')
  const [, baseA, baseB] = await run.waitFor(/instance a on (\S+), instance b on (\S+)/)
  const [, token] = await run.waitFor(/export TOKEN=(\S+)/)
  const headers = { authorization: `Bearer ${token}` }
  const rotated = await fetch(`${baseA}/api/secrets/anon-key/rotate`, { method: 'POST', headers })
  const { anonKey } = await rotated.json() as { anonKey: string }
  const onB = await fetch(`${baseB}/api/metadata/anon-key`, { headers })
  t.equal((await onB.json() as { anonKey: string }).anonKey, anonKey, 'b answers the key rotated through a')
  t.equal(await run.stop(), 0)
})

t.test('auth strategies: the anon key passes, a user JWT passes, neither answers 401', async (t) => {
  const app = await ready(t, await buildAuthStrategies({ adminJwtSecret: JWT_SECRET, userJwtSecret: USER_JWT_SECRET }))
  const key = await keyOf(app)

  const anon = await app.inject({ url: '/posts', headers: bearer(key) })
  t.equal(anon.statusCode, 200)
  t.same(anon.json().caller, 'anon')
  t.equal(anon.json().fingerprint, fingerprintOf(key))

  const userToken = createSigner({ key: USER_JWT_SECRET })({ sub: 'user-42', role: 'authenticated' })
  const user = await app.inject({ url: '/posts', headers: bearer(userToken) })
  t.equal(user.statusCode, 200, 'verifyAnonKey refused, so @fastify/auth tried the user JWT')
  t.same(user.json(), { caller: 'user', sub: 'user-42', posts: ['public posts', 'your drafts'] })

  const neither = await app.inject({ url: '/posts' })
  t.equal(neither.statusCode, 401, 'no credential at all')
  const forged = createSigner({ key: 'some-other-secret-that-is-long-enough' })({ sub: 'mallory' })
  t.equal((await app.inject({ url: '/posts', headers: bearer(forged) })).statusCode, 401, 'a JWT signed with another secret')
  const adminOnly = await app.inject({ url: '/posts', headers: adminHeaders() })
  t.equal(adminOnly.statusCode, 401, 'an admin token of the plugin is not a user token')

  await rotateThrough(app, 0)
  t.equal((await app.inject({ url: '/posts', headers: bearer(key) })).statusCode, 401, 'an expired anon key')
})

t.test('auth strategies, run as a script: the printed user token and the anon key both pass', async (t) => {
  const run = runExampleScript(t, 'auth-strategies.ts')
  const [, base] = await run.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/)
  const [, userToken] = await run.waitFor(/\/posts -H "Authorization: Bearer (ey\S+)"/)
  const answer = await fetch(`${base}/posts`, { headers: bearer(userToken) })
  t.equal((await answer.json() as { sub: string }).sub, 'user-42')
  t.equal((await fetch(`${base}/posts`)).status, 401)
  t.equal(await run.stop(), 0)
})

t.test('audit log: one entry per rotation and revocation, with the actor and fingerprints, never a whole key', async (t) => {
  const entries: AuditEntry[] = []
  const app = await ready(t, await buildAuditLog(JWT_SECRET, (entry) => entries.push(entry)))
  const first = await keyOf(app)
  const second = await rotateThrough(app, 24, 'alice')
  const third = await rotateThrough(app, 48, 'bob')
  const one = await app.inject({ method: 'DELETE', url: `/api/secrets/anon-key/previous/${fingerprintOf(first)}`, headers: adminHeaders({ sub: 'carol' }) })
  t.equal(one.statusCode, 200)
  await app.anonKey.revokePrevious()

  t.same(entries.map((entry) => [entry.action, entry.actor]), [
    ['anon_key.rotated', 'alice'],
    ['anon_key.rotated', 'bob'],
    ['anon_key.revoked', 'carol'],
    ['anon_key.revoked', null]
  ], 'who did what, in order; a change made from code has no actor')
  t.match(entries[0], { gracePeriodHours: 24, oldFingerprint: fingerprintOf(first), newFingerprint: fingerprintOf(second) })
  t.match(entries[1], { gracePeriodHours: 48, oldFingerprint: fingerprintOf(second), newFingerprint: fingerprintOf(third) })
  t.match(entries[2], { scope: 'one', revoked: 1, fingerprints: [fingerprintOf(first)] })
  t.match(entries[3], { scope: 'all', revoked: 1, fingerprints: [fingerprintOf(second)] })

  const log = entries.map((entry) => JSON.stringify(entry)).join('\n')
  for (const key of [first, second, third]) t.notOk(log.includes(key), 'no key appears in the log')
  t.notMatch(log, WHOLE_KEY, 'nothing shaped like an anon key')
  t.notMatch(log, ANY_DIGEST, 'not even a whole digest: fingerprints only')
})

t.test('audit log, run as a script: a rotation through the printed token writes one JSON line for alice', async (t) => {
  const run = runExampleScript(t, 'audit-log.ts')
  const [, base] = await run.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/)
  const [, token] = await run.waitFor(/export TOKEN=(\S+)/)
  await fetch(`${base}/api/secrets/anon-key/rotate`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })
  const [line] = await run.waitFor(/\{"action":"anon_key\.rotated".*\}/)
  t.match(JSON.parse(line), { action: 'anon_key.rotated', actor: 'alice', gracePeriodHours: 168 })
  t.notMatch(line, WHOLE_KEY)
  t.equal(await run.stop(), 0)
})

t.test('server: Swagger UI at /docs shows the admin routes with the bearer scheme the host declared', async (t) => {
  const app = await ready(t, await buildServer(JWT_SECRET))
  const ui = await app.inject({ url: '/docs/' })
  t.equal(ui.statusCode, 200)
  t.match(ui.headers['content-type'], /text\/html/)
  const doc = (await app.inject({ url: '/docs/json' })).json()
  t.ok(doc.paths['/api/metadata/anon-key'].get)
  t.ok(doc.paths['/api/secrets/anon-key/rotate'].post)
  t.match(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, 'declared by the plugin')
  t.same(doc.paths['/api/hello'].get.security, [{ anonKey: [] }])
  const key = await keyOf(app)
  t.equal((await app.inject({ url: '/api/hello', headers: bearer(key) })).json().hello, 'anon')
})

t.test('npm start: prints a development admin token, curl lines and the Swagger UI address', async (t) => {
  const run = runExampleScript(t, 'server.ts')
  const [, token] = await run.waitFor(/export TOKEN=(\S+)/)
  const [, docs] = await run.waitFor(/(http:\/\/127\.0\.0\.1:\d+)\/docs/)
  const answer = await fetch(`${docs}/api/metadata/anon-key`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(answer.status, 200, 'the printed token is an admin token')
  t.equal((await fetch(`${docs}/docs/json`)).status, 200)
  t.equal(await run.stop(), 0)
})

t.test("npm start's printed lines, pasted into bash, show the life of a key in order", async (t) => {
  const run = runExampleScript(t, 'server.ts')
  await run.waitFor(/Swagger UI/)
  const script = /^export BASE=[\s\S]*?\n\n(?=Swagger UI)/m.exec(run.output())?.[0] as string
  t.ok(script, `a script is printed; output:\n${run.output()}`)
  const result = spawnSync('bash', ['-e', '-c', script], { encoding: 'utf8', timeout: 60_000 })
  t.equal(result.status, 0, `the script runs through; stderr: ${result.stderr}`)
  const steps = [
    /^anon_[0-9a-f]{64}$/m,
    /"hello":"anon"/,
    /"success":true,"message":"Anon key rotated successfully\. Old key will remain valid during grace period\."/,
    /^HTTP\/1\.1 200/m,
    /"previousKeys":\[\{"fingerprint":"[0-9a-f]{12}".*"requests":1,/,
    /"success":true,"revoked":1/,
    /"error":"ANON_KEY_REVOKED"/
  ]
  let rest = result.stdout
  for (const step of steps) {
    const match = step.exec(rest)
    t.ok(match, `next in order: ${step}; output left:\n${rest}`)
    if (match !== null) rest = rest.slice(match.index + match[0].length)
  }
  t.equal(await run.stop(), 0)
})

t.test('npm start keeps the key in ANON_KEY_DB: after a restart it serves the same key', async (t) => {
  const keys: string[] = []
  const file = sqliteFile(t)
  for (const start of ['first', 'second']) {
    const run = runExampleScript(t, 'server.ts', { ANON_KEY_DB: file })
    await run.waitFor(new RegExp(`The anon key is kept in ${file}: it survives a restart`))
    const [, token] = await run.waitFor(/export TOKEN=(\S+)/)
    const [, base] = await run.waitFor(/export BASE=(\S+)/)
    const answer = await fetch(`${base}/api/metadata/anon-key`, { headers: { authorization: `Bearer ${token}` } })
    keys.push(((await answer.json()) as { anonKey: string }).anonKey)
    t.equal(await run.stop(), 0, `the ${start} start stops cleanly`)
  }
  t.match(keys[0], WHOLE_KEY)
  t.equal(keys[1], keys[0], 'the second start serves the key the first one made')
})

t.test('npm start with NODE_ENV=production: no secret, no start; with a secret, no token printed', async (t) => {
  const refused = runExampleScript(t, 'server.ts', { NODE_ENV: 'production' })
  t.equal(await refused.exited, 1, 'exits with 1')
  t.match(refused.output(), 'Set JWT_SECRET')

  const run = runExampleScript(t, 'server.ts', { NODE_ENV: 'production', JWT_SECRET, LOG_LEVEL: undefined })
  await run.waitFor(/NODE_ENV=production: no development admin token is printed/)
  t.notMatch(run.output(), /export TOKEN=|eyJ/, 'no token anywhere in the output')
  t.equal(await run.stop(), 0)
})

t.test('the examples listen on PORT when it is set, on their own default port otherwise', async (t) => {
  const saved = process.env.PORT
  t.teardown(() => { if (saved === undefined) delete process.env.PORT; else process.env.PORT = saved })
  delete process.env.PORT
  t.equal(portFromEnv(3000), 3000)
  process.env.PORT = '4321'
  t.equal(portFromEnv(3000), 4321)
})
