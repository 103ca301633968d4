import assert from 'node:assert/strict'
import type { StoreCase } from './case.js'
import { keys } from './tools.js'

export const initializeCases: StoreCase[] = [
  {
    name: 'an empty store loads as no key and no previous keys',
    async run (tools) {
      const snapshot = await (await tools.key(tools.namespace())).load()
      assert.equal(snapshot.currentKey, null, 'a new namespace already held a current key')
      assert.deepEqual(snapshot.previousKeys, [], 'a new namespace already held previous keys')
      assert.equal(typeof snapshot.version, 'number', 'version is not a number')
    }
  },
  {
    name: 'initialize stores the key when the store is empty and keeps it afterwards',
    async run (tools) {
      const store = await tools.key(tools.namespace())
      const [first, second] = keys(2)
      assert.equal((await store.initialize(first)).currentKey, first, 'initialize on an empty store did not store the key')
      assert.equal((await store.load()).currentKey, first, 'load did not return the key initialize stored')
      const again = await store.initialize(second)
      assert.equal(again.currentKey, first, 'a second initialize replaced the existing key')
      assert.deepEqual(again.previousKeys, [], 'a second initialize made a previous key')
      assert.equal((await store.load()).currentKey, first, 'the key changed after a second initialize')
    }
  },
  {
    name: 'concurrent initializes from many instances end with one key for all',
    async run (tools, settings) {
      const namespace = tools.namespace()
      const stores = await Promise.all(Array.from({ length: settings.instances }, () => tools.key(namespace)))
      const candidates = keys(stores.length)
      const results = await Promise.all(stores.map((store, i) => store.initialize(candidates[i])))
      const winner = results[0].currentKey
      assert.ok(candidates.includes(winner as string), 'the stored key is none of the candidates')
      for (const result of results) assert.equal(result.currentKey, winner, 'two instances were told different keys')
      for (const store of stores) assert.equal((await store.load()).currentKey, winner, 'an instance loads another key')
    }
  }
]
