import t from 'tap'
import { performance } from 'node:perf_hooks'
import { adminHeaders, currentKey, internalsOf, listPrevious, rotate, useKey } from '../helpers/app.js'
import { fingerprintOf } from '../../lib/stores/index.js'
import { createPool, dropTableAtEnd, onPostgres, pgInstance, startPgInstances } from '../helpers/postgres.js'
import { uniqueNamespace } from '../helpers/services.js'

const PROPAGATION_BOUND_MS = 1000
const ROUNDS = 10

onPostgres(t, (t) => {
  const tableName = uniqueNamespace('anon_multi')
  dropTableAtEnd(t, createPool(t), tableName)
  const settings = () => ({ tableName, namespace: uniqueNamespace('multi') })

  t.test('5 instances starting at once end with one and the same key', async (t) => {
    const instances = await startPgInstances(t, 5, settings())
    const keys = await Promise.all(instances.map((instance) => currentKey(instance.app)))
    t.equal(new Set(keys).size, 1, `instances disagree on the key: ${keys.map(fingerprintOf).join(', ')}`)
    t.match(keys[0], /^anon_[0-9a-f]{64}$/)
  })

  t.test(`a rotation with gracePeriodHours 0 on one instance is rejected by another within ${PROPAGATION_BOUND_MS} ms`, async (t) => {
    const [one, other] = await startPgInstances(t, 2, settings())
    const delays: number[] = []
    for (let round = 0; round < ROUNDS; round++) {
      const oldKey = await currentKey(one.app)
      t.equal((await useKey(other.app, oldKey)).statusCode, 200, 'the other instance accepts the key before the rotation')
      const rotatedAt = performance.now()
      const response = await rotate(one.app, { gracePeriodHours: 0 })
      t.equal(response.statusCode, 200, `rotate answered ${response.body}`)
      let refused = await useKey(other.app, oldKey)
      while (refused.statusCode === 200 && performance.now() - rotatedAt < PROPAGATION_BOUND_MS) {
        await new Promise((resolve) => setTimeout(resolve, 2))
        refused = await useKey(other.app, oldKey)
      }
      delays.push(performance.now() - rotatedAt)
      t.equal(refused.statusCode, 401, `the other instance still accepted the old key ${PROPAGATION_BOUND_MS} ms after the rotation`)
      t.equal(refused.json().error, 'ANON_KEY_EXPIRED')
      t.equal((await useKey(other.app, response.json().anonKey)).statusCode, 200, 'the other instance accepts the new key')
    }
    delays.sort((a, b) => a - b)
    t.comment(`propagation over ${ROUNDS} rotations (gracePeriodHours 0, from sending the rotate request to one instance until the other refuses the old key): median ${delays[Math.floor(ROUNDS / 2)].toFixed(1)} ms, max ${delays[ROUNDS - 1].toFixed(1)} ms`)
  })

  t.test('20 concurrent rotations spread over two instances lose nothing', async (t) => {
    const instances = await startPgInstances(t, 2, settings())
    const initialKey = await currentKey(instances[0].app)
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => rotate(instances[i % 2].app, { gracePeriodHours: 1 })))
    for (const response of responses) t.equal(response.statusCode, 200, `a concurrent rotation answered ${response.statusCode} ${response.body}`)
    const newKeys = responses.map((response) => response.json().anonKey as string)
    t.equal(new Set(newKeys).size, 20, 'every rotation made its own key')
    const finalKey = await currentKey(instances[0].app)
    t.ok(newKeys.includes(finalKey), 'the final key is one of the rotated-in keys')
    t.equal(await currentKey(instances[1].app), finalKey, 'both instances agree on the final key')
    const previous = [initialKey, ...newKeys.filter((key) => key !== finalKey)]
    for (const instance of instances) {
      await internalsOf(instance.app).refresh()
      for (const key of previous) {
        const result = await instance.app.anonKey.verify(key)
        t.ok(result.valid && result.expiresAt !== null, 'a key that was current at some point verifies as a previous key with its own expiry')
      }
      t.equal((await listPrevious(instance.app)).length, 20, 'the store lists every previous key')
    }
  })

  t.test('keys survive a restart of every instance', async (t) => {
    const where = settings()
    const before = await startPgInstances(t, 2, where)
    const oldKey = await currentKey(before[0].app)
    const rotated = (await rotate(before[1].app, { gracePeriodHours: 1 })).json().anonKey
    await Promise.all(before.map((instance) => instance.stop()))
    const after = await startPgInstances(t, 2, where)
    for (const instance of after) {
      t.equal(await currentKey(instance.app), rotated, 'a restarted instance serves the key from before the restart')
      t.equal((await useKey(instance.app, oldKey)).statusCode, 200, 'the previous key still verifies after the restart')
    }
  })

  t.test('app.close() finishes when the host ends its pool in its own onClose hook', async (t) => {
    const instance = pgInstance(t, settings())
    instance.app.addHook('onClose', () => instance.pool.end())
    await instance.app.ready()
    const closed = await Promise.race([
      instance.app.close().then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 5000).unref())
    ])
    t.ok(closed, 'app.close() did not hang on pool.end() waiting for the listening connection')
    t.ok(instance.pool.ended, 'the pool ended')
  })

  t.test('two namespaces on one server never see each other\'s keys', async (t) => {
    const [first] = await startPgInstances(t, 1, settings())
    const second = pgInstance(t, settings())
    await second.app.ready()
    const [firstKey, secondKey] = [await currentKey(first.app), await currentKey(second.app)]
    t.not(firstKey, secondKey, 'each namespace has its own key')
    t.equal((await useKey(second.app, firstKey)).statusCode, 401, 'a key of one namespace is refused by the other')
    await rotate(first.app, { gracePeriodHours: 1 })
    t.equal(await currentKey(second.app), secondKey, 'a rotation in one namespace leaves the other alone')
    t.same(await listPrevious(second.app), [], 'no previous key leaks into the other namespace')
    t.equal((await second.app.inject({ url: '/api/secrets/anon-key/previous', headers: adminHeaders() })).statusCode, 200)
  })
})
