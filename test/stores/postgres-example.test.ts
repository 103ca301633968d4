import t from 'tap'
import { build } from '../../examples/postgres.js'
import { adminHeaders, currentKey, JWT_SECRET, rotate, useKey } from '../helpers/app.js'
import { runExampleScript } from '../helpers/example-script.js'
import { createPool, databaseUrl, onPostgres } from '../helpers/postgres.js'
import { uniqueNamespace } from '../helpers/services.js'

// Three runs of the example as a script, each loading TypeScript afresh, on a machine that may be busy.
t.setTimeout(180_000)

onPostgres(t, (t) => {
  const cleanup = createPool(t)
  const namespaces: string[] = []
  t.teardown(async () => {
    await cleanup.query('DELETE FROM anon_key_projects WHERE namespace = ANY($1)', [namespaces])
    await cleanup.query('DELETE FROM anon_key_projects_retired WHERE namespace = ANY($1)', [namespaces])
  })
  const namespace = (): string => {
    namespaces.push(uniqueNamespace('example'))
    return namespaces[namespaces.length - 1]
  }

  t.test('two instances of the example on one database agree, and a 0 h rotation on one is refused by the other', async (t) => {
    const shared = namespace()
    const [one, other] = await Promise.all([build(JWT_SECRET, createPool(t), shared), build(JWT_SECRET, createPool(t), shared)])
    t.teardown(() => Promise.all([one.close(), other.close()]))
    await Promise.all([one.ready(), other.ready()])
    const oldKey = await currentKey(one)
    t.equal(await currentKey(other), oldKey, 'both instances serve the same key')
    const hello = await one.inject({ url: '/hello', headers: { authorization: `Bearer ${oldKey}` } })
    t.equal(hello.json().key.role, 'anon', '/hello answers an anon key holder')
    t.equal((await rotate(one, { gracePeriodHours: 0 })).statusCode, 200)
    let refused = await other.inject({ url: '/hello', headers: { authorization: `Bearer ${oldKey}` } })
    for (let attempt = 0; attempt < 100 && refused.statusCode === 200; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 10))
      refused = await other.inject({ url: '/hello', headers: { authorization: `Bearer ${oldKey}` } })
    }
    t.equal(refused.json().error, 'ANON_KEY_EXPIRED', 'the other instance refuses the old key')
    t.equal((await useKey(one, oldKey)).statusCode, 404, 'the example has no /data route: only /hello is guarded')
    t.equal((await one.inject({ url: '/api/metadata/anon-key', headers: adminHeaders() })).statusCode, 200)
  })

  t.test('run as a script: prints a working admin token, serves the key, stops cleanly on SIGTERM', async (t) => {
    const run = runExampleScript(t, 'postgres.ts', { DATABASE_URL: databaseUrl(), ANON_KEY_NAMESPACE: namespace() })
    const base = (await run.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/))?.[1]
    const token = (await run.waitFor(/export TOKEN=(\S+)/))?.[1]
    t.ok(base !== undefined && token !== undefined, `the script printed its address and a token:\n${run.output()}`)
    const answer = await fetch(`${base}/api/metadata/anon-key`, { headers: { authorization: `Bearer ${token}` } })
    t.equal(answer.status, 200, 'the printed token reads the key')
    t.match(run.output(), `curl -s -X POST ${base}/api/secrets/anon-key/rotate`)
    t.equal(await run.stop(), 0, 'exit code 0 after SIGTERM')
  })

  // The example's own defaults: DATABASE_URL postgres://postgres@127.0.0.1:5432/test, namespace 'example'.
  const usesDefaults = databaseUrl() === 'postgres://postgres@127.0.0.1:5432/test'
  t.test('run as a script in production with the default database and namespace: no development token is printed', { skip: usesDefaults ? false : 'DATABASE_URL is not the example\'s default database' }, async (t) => {
    const run = runExampleScript(t, 'postgres.ts', { DATABASE_URL: undefined, ANON_KEY_NAMESPACE: undefined, NODE_ENV: 'production', JWT_SECRET: 'production-secret-that-is-long-enough' })
    t.ok(await run.waitFor(/listening on http.*namespace "example"/), `the script started:\n${run.output()}`)
    t.notMatch(run.output(), /export TOKEN/)
    t.equal(await run.stop(), 0)
  })

  t.test('run as a script with the database unreachable: exits with code 1 and says why', async (t) => {
    const run = runExampleScript(t, 'postgres.ts', { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/test', ANON_KEY_NAMESPACE: namespace() })
    t.equal(await run.exited, 1, `exit code 1; output:\n${run.output()}`)
    t.match(run.output(), /STORE_UNAVAILABLE|ECONNREFUSED/)
  })
})
