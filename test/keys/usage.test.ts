import t from 'tap'
import { memoryStore, type AnonKeyStore } from '../../lib/index.js'
import { currentKey, internalsOf, listPrevious, rotate, startApp, useKey } from '../helpers/app.js'
import { eventually } from '../helpers/eventually.js'
import { keyHandle } from '../../lib/conformance/index.js'

t.test('a previous key nobody used lists 0 requests and lastSeenAt null', async (t) => {
  const app = await startApp(t)
  await rotate(app, { gracePeriodHours: 1 })
  const [previous] = await listPrevious(app) as any[]
  t.equal(previous.requests, 0)
  t.equal(previous.lastSeenAt, null)
})

t.test('requests that carry a previous key are counted and the last one is dated', async (t) => {
  const app = await startApp(t)
  const oldKey = await currentKey(app)
  await rotate(app, { gracePeriodHours: 1 })
  const before = Date.now()
  for (let i = 0; i < 3; i++) t.equal((await useKey(app, oldKey)).statusCode, 200)
  await useKey(app, await currentKey(app))
  const [previous] = await listPrevious(app) as any[]
  t.equal(previous.requests, 3, 'three requests carried the old key; the current key is not counted')
  t.ok(Date.parse(previous.lastSeenAt) >= before, 'lastSeenAt is the time of the last request')
})

t.test('refused requests are not counted', async (t) => {
  const app = await startApp(t)
  const oldKey = await currentKey(app)
  await rotate(app, { gracePeriodHours: 0 })
  t.equal((await useKey(app, oldKey)).statusCode, 401)
  await rotate(app, { gracePeriodHours: 1 })
  const listed = await listPrevious(app) as any[]
  t.equal(listed.length, 1, 'only the key rotated with a grace period still verifies')
  t.equal(listed[0].requests, 0)
})

t.test('counts from every instance on one store are summed after a flush', async (t) => {
  const store = memoryStore()
  const first = await startApp(t, { store, usageFlushMs: 20 })
  const second = await startApp(t, { store, usageFlushMs: 20 })
  const oldKey = await currentKey(first)
  await rotate(first, { gracePeriodHours: 1 })
  for (let i = 0; i < 2; i++) await useKey(first, oldKey)
  for (let i = 0; i < 5; i++) await useKey(second, oldKey)
  await eventually("both instances' 7 requests to be listed", async () => ((await listPrevious(first)) as any[])[0].requests === 7, 2000)
})

t.test('an instance that closes hands over its counts first', async (t) => {
  const store = memoryStore()
  const staying = await startApp(t, { store })
  const leaving = await startApp(t, { store })
  const oldKey = await currentKey(staying)
  await rotate(staying, { gracePeriodHours: 1 })
  await useKey(leaving, oldKey)
  await leaving.close()
  t.equal(((await listPrevious(staying)) as any[])[0].requests, 1)
})

t.test('counts that fail to reach the store are kept for the next batch', async (t) => {
  const inner = memoryStore()
  let failing = false
  const store: AnonKeyStore = {
    ...inner,
    namespace: inner.namespace,
    recordUsage: async (project, batch) => {
      if (failing) throw new Error('store down')
      return inner.recordUsage?.(project, batch)
    }
  }
  const app = await startApp(t, { store })
  const reader = await startApp(t, { store: inner })
  const oldKey = await currentKey(app)
  await rotate(app, { gracePeriodHours: 1 })
  failing = true
  await useKey(app, oldKey)
  await useKey(app, oldKey)
  await internalsOf(app).flushUsage()
  t.equal(((await listPrevious(reader)) as any[])[0].requests, 0, 'nothing reached the store while it failed')
  t.equal(((await listPrevious(app)) as any[])[0].requests, 2, 'the counting instance still lists its own counts')
  failing = false
  await useKey(app, oldKey)
  await internalsOf(app).flushUsage()
  t.equal(((await listPrevious(reader)) as any[])[0].requests, 3, 'the kept counts arrive with the next batch')
})

t.test('the memory store drops usage reports for keys it no longer holds', async (t) => {
  const store = memoryStore()
  await keyHandle(store).initialize('anon_' + 'a'.repeat(64))
  const before = await store.load('')
  t.equal(await keyHandle(store).recordUsage([{ digest: 'f'.repeat(64), requests: 4, lastSeenAt: 1 }]), 0, 'no report landed')
  t.same(await store.load(''), before, 'nothing was written')
})

t.test('requests counted while a failing batch is under way are added to the kept counts', async (t) => {
  const inner = memoryStore()
  let release: (() => void) | undefined
  let failing = false
  const store: AnonKeyStore = {
    ...inner,
    namespace: inner.namespace,
    recordUsage: async (project, batch) => {
      if (!failing) return inner.recordUsage?.(project, batch)
      await new Promise<void>((resolve) => { release = resolve })
      throw new Error('store down')
    }
  }
  const app = await startApp(t, { store })
  const oldKey = await currentKey(app)
  await rotate(app, { gracePeriodHours: 1 })
  failing = true
  await useKey(app, oldKey)
  const flushing = internalsOf(app).flushUsage()
  await useKey(app, oldKey)
  release?.()
  await flushing
  t.equal(((await listPrevious(app)) as any[])[0].requests, 2, 'the failed batch and the request made meanwhile are both listed')
})

t.test('a batch that fails while another flush ran meanwhile is still kept, and written by the next flush', async (t) => {
  const inner = memoryStore()
  let release: (() => void) | undefined
  let failing = false
  const store: AnonKeyStore = {
    ...inner,
    namespace: inner.namespace,
    recordUsage: async (project, batch) => {
      if (!failing) return inner.recordUsage?.(project, batch)
      await new Promise<void>((resolve) => { release = resolve })
      throw new Error('store down')
    }
  }
  const app = await startApp(t, { store })
  const reader = await startApp(t, { store: inner })
  const oldKey = await currentKey(app)
  await rotate(app, { gracePeriodHours: 1 })
  failing = true
  await useKey(app, oldKey)
  const flushing = internalsOf(app).flushUsage()
  await internalsOf(app).flushUsage()
  t.equal(internalsOf(app).unreported(''), undefined, 'the second flush had nothing to write, so the project\'s counter went')
  release?.()
  await flushing
  failing = false
  await internalsOf(app).flushUsage()
  t.equal(((await listPrevious(reader)) as any[])[0].requests, 1, 'the failed batch reached the store with the next flush')
})
