import assert from 'node:assert/strict'
import type { StoreCase } from './case.js'
import { keyHandle } from './key-handle.js'
import { counter, HOUR_MS, keys, sleep, storeWithKey } from './tools.js'

/** How long a case waits for a notification that must not come. */
const SILENCE_MS = 200

export const notifyCases: StoreCase[] = [
  {
    name: 'subscribe hears every change, made through this instance or another one on the namespace',
    async run (tools) {
      const namespace = tools.namespace()
      const [listening, changing] = [await tools.key(namespace), await tools.key(namespace)]
      const heard = counter()
      await listening.store.subscribe(heard.listener)
      const now = Date.now()
      const changes: Array<[string, () => Promise<unknown>]> = [
        ['initialize', () => changing.initialize(keys(1)[0])],
        ['rotate', () => changing.rotate({ newKey: keys(1)[0], now, expiresAt: now + HOUR_MS })],
        ['revoke', () => changing.revoke({ now: now + 1 })],
        ['rotate through the listening instance', () => listening.rotate({ newKey: keys(1)[0], now: now + 2, expiresAt: now + HOUR_MS })]
      ]
      for (const [what, change] of changes) {
        const before = heard.calls
        await change()
        await tools.waitFor(`a notification of ${what}`, () => heard.calls > before)
      }
    }
  },
  {
    name: 'unsubscribe stops the calls to that listener only',
    async run (tools) {
      const { store: listening, namespace } = await storeWithKey(tools)
      const changing = await tools.key(namespace)
      const [stopped, kept] = [counter(), counter()]
      const unsubscribe = await listening.store.subscribe(stopped.listener)
      await listening.store.subscribe(kept.listener)
      await unsubscribe()
      const now = Date.now()
      await changing.rotate({ newKey: keys(1)[0], now, expiresAt: now + HOUR_MS })
      await tools.waitFor('a notification to the listener still subscribed', () => kept.calls > 0)
      await sleep(SILENCE_MS)
      assert.equal(stopped.calls, 0, 'a listener was called after unsubscribe')
    }
  },
  {
    name: 'namespaces never see each other\'s keys or changes',
    async run (tools) {
      const one = await storeWithKey(tools)
      const two = await storeWithKey(tools)
      const [heardOne, heardTwo] = [counter(), counter()]
      await one.store.store.subscribe(heardOne.listener)
      await two.store.store.subscribe(heardTwo.listener)
      const now = Date.now()
      await one.store.rotate({ newKey: keys(1)[0], now, expiresAt: now + HOUR_MS })
      await one.store.revoke({ now: now + 1 })
      // Told apart by a project only the first namespace writes: the second may rightly hear its own
      // initialization late (a Redis Cluster relays a publication to the other nodes over its bus, after the
      // script that made it returned), or twice (a store that also polls for missed changes).
      await keyHandle(one.store.store, 'only-in-one').initialize(keys(1)[0])
      await tools.waitFor('a notification on the changed namespace', () => heardOne.projects.includes('only-in-one'))
      await sleep(SILENCE_MS)
      assert.ok(!heardTwo.projects.includes('only-in-one'), 'a change in one namespace was announced in another')
      const untouched = await two.store.load()
      assert.equal(untouched.currentKey, two.key, 'a rotation in one namespace changed another namespace\'s key')
      assert.deepEqual(untouched.previousKeys, [], 'a rotation in one namespace made a previous key in another')
    }
  },
  {
    name: 'close stops notifications and leaves the shared data in place',
    async run (tools) {
      const { store: closing, namespace, key } = await storeWithKey(tools)
      const changing = await tools.key(namespace)
      const heard = counter()
      await closing.store.subscribe(heard.listener)
      await closing.store.close()
      const now = Date.now()
      const outcome = await changing.rotate({ newKey: keys(1)[0], now, expiresAt: now + HOUR_MS })
      assert.ok(outcome !== null, 'closing one instance lost the key of the others')
      await sleep(SILENCE_MS)
      assert.equal(heard.calls, 0, 'a listener was called after close')
      const reopened = await tools.key(namespace)
      assert.equal((await reopened.load()).currentKey, outcome.snapshot.currentKey, 'a store opened after close does not see the data')
      assert.notEqual(outcome.snapshot.currentKey, key, 'the rotation did not happen')
    }
  }
]
