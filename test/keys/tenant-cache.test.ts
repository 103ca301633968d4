import t from 'tap'
import { TenantCache, TenantLoadsExhausted } from '../../lib/keys/tenant-cache.js'

interface Value { tenant: string, keys: number }

/** A cache over a fake store whose loads stay pending until released, counting every call. */
function cacheOver (limits: { maxEntries?: number, maxEmptyEntries?: number, maxLoads?: number } = {}, keysOf = (tenant: string) => tenant.startsWith('real') ? 1 : 0) {
  const calls: string[] = []
  const pending: Array<() => void> = []
  let held = false
  const cache = new TenantCache<Value>({
    maxEntries: limits.maxEntries ?? 3,
    maxEmptyEntries: limits.maxEmptyEntries ?? 2,
    maxLoads: limits.maxLoads ?? 10,
    isEmpty: (value) => value.keys === 0,
    load: (tenant) => {
      calls.push(tenant)
      const value = { tenant, keys: keysOf(tenant) }
      if (!held) return Promise.resolve(value)
      return new Promise((resolve) => pending.push(() => resolve(value)))
    }
  })
  return {
    cache,
    calls,
    hold: () => { held = true },
    release: () => {
      held = false
      for (const resolve of pending.splice(0)) resolve()
    }
  }
}

t.test('a tenant is loaded once and then served from the cache without a store call', async (t) => {
  const { cache, calls } = cacheOver()
  t.same(await cache.load('real-a'), { tenant: 'real-a', keys: 1 })
  t.same(await cache.load('real-a'), { tenant: 'real-a', keys: 1 })
  t.same(cache.get('real-a'), { tenant: 'real-a', keys: 1 })
  t.same(calls, ['real-a'])
  t.equal(cache.get('real-b'), undefined, 'get never loads')
  t.same(calls, ['real-a'])
})

t.test('concurrent first uses of one tenant share one store call', async (t) => {
  const { cache, calls, hold, release } = cacheOver()
  hold()
  const loads = Array.from({ length: 50 }, () => cache.load('real-a'))
  t.equal(cache.loads, 1)
  release()
  const values = await Promise.all(loads)
  t.ok(values.every((value) => value === values[0]), 'every caller gets the same value')
  t.same(calls, ['real-a'])
  t.equal(cache.loads, 0)
})

t.test('beyond maxEntries the least recently used tenant with keys is evicted', async (t) => {
  const { cache, calls } = cacheOver({ maxEntries: 3 })
  for (const tenant of ['real-1', 'real-2', 'real-3']) await cache.load(tenant)
  cache.get('real-1') // now real-2 is the least recently used
  await cache.load('real-4')
  t.ok(cache.has('real-1'))
  t.notOk(cache.has('real-2'), 'the least recently used went')
  t.ok(cache.has('real-3'))
  t.ok(cache.has('real-4'))
  t.equal(cache.size, 3)
  await cache.load('real-2')
  t.same(calls, ['real-1', 'real-2', 'real-3', 'real-4', 'real-2'], 'an evicted tenant is loaded again')
})

t.test('tenants without keys are cached as such and never push out tenants with keys', async (t) => {
  const { cache, calls } = cacheOver({ maxEntries: 2, maxEmptyEntries: 2 })
  await cache.load('real-1')
  await cache.load('real-2')
  for (let i = 0; i < 100; i++) await cache.load(`random-${i}`)
  t.ok(cache.has('real-1') && cache.has('real-2'), 'a flood of unknown tenants evicted no real one')
  t.ok(cache.has('random-99') && cache.has('random-98'))
  t.notOk(cache.has('random-0'))
  t.equal(cache.size, 4)
  const before = calls.length
  await cache.load('random-99')
  t.equal(calls.length, before, 'an unknown tenant asked again makes no store call')
  t.same(cache.tenants().sort(), ['random-98', 'random-99', 'real-1', 'real-2'])
})

t.test('cold loads in flight are bounded; one more is refused at once without a store call, and the bound frees up', async (t) => {
  const { cache, calls, hold, release } = cacheOver({ maxLoads: 2 })
  hold()
  const first = cache.load('real-1')
  const second = cache.load('real-2')
  const shared = cache.load('real-1')
  await t.rejects(cache.load('real-3'), TenantLoadsExhausted)
  await t.rejects(cache.load('real-3'), /2 tenants are already being loaded/)
  t.same(calls, ['real-1', 'real-2'], 'the refused load never reached the store')
  release()
  await Promise.all([first, second, shared])
  t.same(await cache.load('real-3'), { tenant: 'real-3', keys: 1 })
})

t.test('reloads of held tenants count against the same bound as cold loads', async (t) => {
  const { cache, hold, release } = cacheOver({ maxLoads: 2 })
  let reloaded = (): void => {}
  const reload = cache.withinLoads(() => new Promise((resolve) => { reloaded = resolve }))
  t.ok(reload !== null, 'a reload within the bound runs')
  hold()
  const cold = cache.load('real-1')
  t.equal(cache.loads, 2)
  t.equal(cache.withinLoads(async () => { t.fail('run beyond the bound') }), null, 'a reload beyond the bound does not run')
  await t.rejects(cache.load('real-2'), TenantLoadsExhausted, 'nor does a cold load')
  reloaded()
  await reload
  release()
  await cold
  t.equal(cache.loads, 0, 'the bound frees up as they settle')
})

t.test('a failed load is not cached, and the next use tries again', async (t) => {
  let fail = true
  const cache = new TenantCache<Value>({
    maxEntries: 3,
    maxEmptyEntries: 3,
    maxLoads: 3,
    isEmpty: (value) => value.keys === 0,
    load: async (tenant) => {
      if (fail) throw new Error('store down')
      return { tenant, keys: 1 }
    }
  })
  await t.rejects(cache.load('real-1'), /store down/)
  t.notOk(cache.has('real-1'))
  t.equal(cache.loads, 0)
  fail = false
  t.same(await cache.load('real-1'), { tenant: 'real-1', keys: 1 })
})

t.test('replace updates a cached tenant, moving it between the LRUs, and ignores one that is not cached', async (t) => {
  const { cache } = cacheOver()
  await cache.load('empty-1')
  cache.replace('empty-1', { tenant: 'empty-1', keys: 2 })
  t.same(cache.get('empty-1'), { tenant: 'empty-1', keys: 2 })
  cache.replace('other', { tenant: 'other', keys: 1 })
  t.notOk(cache.has('other'))
})

t.test('a value set while a load is in flight wins over what the load read', async (t) => {
  const { cache, hold, release } = cacheOver()
  hold()
  const load = cache.load('empty-1')
  cache.set('empty-1', { tenant: 'empty-1', keys: 5 })
  release()
  t.same(await load, { tenant: 'empty-1', keys: 5 })
})
