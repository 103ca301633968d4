import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { build } from '../../examples/rate-limit.js'
import { JWT_SECRET, bearer } from '../helpers/app.js'
import { runExampleScript } from '../helpers/example-script.js'

async function example (t: Test, maxFailures: number, timeWindow: number | string = '1 minute'): Promise<{ app: FastifyInstance, key: string }> {
  process.env.LOG_LEVEL = 'silent'
  const app = await build(JWT_SECRET, { maxFailures, timeWindow })
  t.teardown(() => app.close())
  await app.ready()
  return { app, key: await app.anonKey.get() as string }
}

function hello (app: FastifyInstance, authorization: Record<string, string>, remoteAddress = '203.0.113.7') {
  return app.inject({ url: '/api/hello', headers: authorization, remoteAddress })
}

const WRONG = bearer('anon_' + '1'.repeat(64))

t.test('a client that keeps sending wrong keys gets 401 for the first failures, then 429 in the same error format', async (t) => {
  const { app } = await example(t, 3)
  for (let i = 1; i <= 3; i++) {
    const response = await hello(app, WRONG)
    t.equal(response.statusCode, 401, `failure ${i} is a plain 401`)
    t.equal(response.json().error, 'AUTH_INVALID_CREDENTIALS')
  }
  const limited = await hello(app, WRONG)
  t.equal(limited.statusCode, 429, 'the next failure is refused with 429')
  t.same(Object.keys(limited.json()).sort(), ['error', 'message', 'nextActions', 'statusCode'])
  t.equal(limited.json().error, 'TOO_MANY_FAILED_ATTEMPTS')
  t.equal(limited.json().statusCode, 429)
  t.ok(Number(limited.headers['retry-after']) > 0, 'retry-after tells when to come back')
  t.equal((await hello(app, {})).statusCode, 429, 'no key at all counts as a failure too')
})

t.test('requests with a valid key are never counted or limited, even from an address that is being limited', async (t) => {
  const { app, key } = await example(t, 3)
  for (let i = 0; i < 50; i++) {
    const response = await hello(app, bearer(key))
    if (response.statusCode !== 200) t.fail(`valid request ${i} got ${response.statusCode}`)
  }
  t.equal((await hello(app, WRONG)).statusCode, 401, '50 valid requests used none of the failure budget')
  await hello(app, WRONG)
  await hello(app, WRONG)
  t.equal((await hello(app, WRONG)).statusCode, 429, 'the address is now limited for wrong keys')
  const valid = await hello(app, bearer(key))
  t.equal(valid.statusCode, 200, 'a valid key from the same address still goes through')
  t.equal(valid.json().key.role, 'anon', 'with request.anonKey set')
  t.equal(valid.headers['x-ratelimit-remaining'], undefined, 'and is not even counted')
})

t.test('the limit is per client address, and a previous key within its grace counts as valid', async (t) => {
  const { app, key } = await example(t, 2)
  await hello(app, WRONG)
  await hello(app, WRONG)
  t.equal((await hello(app, WRONG)).statusCode, 429, 'one address is limited')
  t.equal((await hello(app, WRONG, '198.51.100.9')).statusCode, 401, 'another address is not')
  await app.anonKey.rotate({ gracePeriodHours: 1 })
  t.equal((await hello(app, bearer(key))).statusCode, 200, 'the old key in its grace period passes the limited address')
  const second = await app.anonKey.get() as string
  await app.anonKey.rotate({ gracePeriodHours: 0 })
  const refused = await hello(app, bearer(second), '192.0.2.1')
  t.equal(refused.statusCode, 401, 'a key whose grace ended is a failure')
  t.equal(refused.json().error, 'ANON_KEY_EXPIRED', 'and keeps its own error code until the limit is reached')
})

t.test('after the window, a limited client gets 401 again rather than 429', async (t) => {
  const { app } = await example(t, 1, 300)
  await hello(app, WRONG)
  t.equal((await hello(app, WRONG)).statusCode, 429)
  await new Promise((resolve) => setTimeout(resolve, 400))
  t.equal((await hello(app, WRONG)).statusCode, 401)
})

t.test('the example runs as a script and prints how to try it', async (t) => {
  const run = runExampleScript(t, 'rate-limit.ts')
  const [, base] = await run.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/)
  await run.waitFor(/ANON_KEY/)
  const statuses: number[] = []
  for (let i = 0; i < 6; i++) statuses.push((await fetch(`${base}/api/hello`, { headers: WRONG })).status)
  t.same(statuses, [401, 401, 401, 401, 401, 429], 'five failures a minute, then 429')
  t.equal(await run.stop(), 0, 'it stops cleanly on SIGTERM')
})
