import t from 'tap'
import { memoryStore } from '../../lib/index.js'
import { buildApp, currentKey, internalsOf, listPrevious, rotate, startApp, useKey } from '../helpers/app.js'
import { CLOCK_START, fakeDateNow, HOUR_MS } from '../helpers/clock.js'
import { keysRequest } from '../helpers/named-keys.js'
import { flush, usageOf } from '../helpers/usage.js'

const iso = (ms: number): string => new Date(ms).toISOString()

t.test('a previous key is safe to revoke once nobody used it for 24 hours and it has been a previous key that long', async (t) => {
  const clock = fakeDateNow(CLOCK_START)
  t.teardown(() => clock.restore())
  const app = await startApp(t)
  const oldKey = await currentKey(app)
  await rotate(app, { gracePeriodHours: 720 })
  let [previous] = await listPrevious(app) as any[]
  t.equal(previous.lastUsedAt, null, 'a key never used since the counting began has no last use')
  t.equal(previous.safeToRevoke, false, 'a key rotated a moment ago is not safe to revoke, even unused')
  clock.advance(10 * HOUR_MS)
  await useKey(app, oldKey)
  await flush(app)
  clock.advance(23 * HOUR_MS)
  ;[previous] = await listPrevious(app) as any[]
  t.equal(previous.lastUsedAt, iso(CLOCK_START + 10 * HOUR_MS))
  t.equal(previous.safeToRevoke, false, 'used 23 hours ago: not safe yet')
  clock.advance(HOUR_MS)
  ;[previous] = await listPrevious(app) as any[]
  t.equal(previous.safeToRevoke, true, 'nobody used it for 24 hours: safe')
  const [named] = (await (await keysRequest(app, 'GET', '/default')).json()).previousKeys
  t.same([named.lastUsedAt, named.safeToRevoke], [previous.lastUsedAt, true], 'AnonKeyInfo.previousKeys says the same')
  const usage = (await usageOf(app)).keys[1]
  t.same([usage.lastUsedAt, usage.safeToRevoke], [previous.lastUsedAt, true], 'the usage route says the same')
  await useKey(app, oldKey)
  t.equal(((await listPrevious(app)) as any[])[0].safeToRevoke, false, 'a new use makes it unsafe again at once')
})

t.test('a use on another instance makes a previous key unsafe to revoke once that instance flushed', async (t) => {
  const clock = fakeDateNow(CLOCK_START)
  t.teardown(() => clock.restore())
  const store = memoryStore()
  const one = await startApp(t, { store })
  const other = await startApp(t, { store })
  const oldKey = await currentKey(one)
  await rotate(one, { gracePeriodHours: 720 })
  clock.advance(48 * HOUR_MS)
  t.equal(((await listPrevious(one)) as any[])[0].safeToRevoke, true)
  await internalsOf(other).refresh()
  t.equal((await useKey(other, oldKey)).statusCode, 200)
  await flush(other)
  const [previous] = await listPrevious(one) as any[]
  t.equal(previous.safeToRevoke, false, 'the use on the other instance counts')
  t.equal(previous.lastUsedAt, iso(clock.now()))
})

t.test('safeToRevokeAfterHours sets the quiet time', async (t) => {
  const clock = fakeDateNow(CLOCK_START)
  t.teardown(() => clock.restore())
  const app = await startApp(t, { safeToRevokeAfterHours: 2 })
  await rotate(app, { gracePeriodHours: 24 })
  clock.advance(2 * HOUR_MS - 1)
  t.equal(((await listPrevious(app)) as any[])[0].safeToRevoke, false)
  clock.advance(1)
  t.equal(((await listPrevious(app)) as any[])[0].safeToRevoke, true)
})

t.test('a bad safeToRevokeAfterHours fails ready() with a message naming it and the fix', async (t) => {
  for (const value of [0, 1.5, 721, '24', null]) {
    const app = buildApp({ safeToRevokeAfterHours: value as any })
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.ready() }, { message: /option "safeToRevokeAfterHours" must be a whole number from 1 to 720.*Set "safeToRevokeAfterHours"/ }, `${JSON.stringify(value)} is refused`)
  }
})
