import t from 'tap'
import { memoryStore } from '../lib/index.js'
import type { AnonKeyStore, PreviousKeyRecord } from '../lib/stores/store.js'
import { rotateState, type KeyState } from '../lib/stores/transitions.js'
import { runStoreConformance, storeConformanceCases, type StoreConformanceOptions } from '../lib/testing.js'

/** One memoryStore per namespace: every "instance" the suite asks for shares it, as apps in one process would. */
function memoryBackend (): StoreConformanceOptions {
  const stores = new Map<string, AnonKeyStore>()
  const storeFor = (namespace: string): AnonKeyStore => {
    if (!stores.has(namespace)) stores.set(namespace, memoryStore({ namespace }))
    return stores.get(namespace) as AnonKeyStore
  }
  return {
    createStore: storeFor,
    readRaw: async (namespace) => JSON.stringify(await storeFor(namespace).load())
  }
}

/** The one case of the suite with this name, so a test can show the suite catches a broken store. */
function conformanceCase (options: StoreConformanceOptions, name: RegExp) {
  const found = storeConformanceCases(options).find((candidate) => name.test(candidate.name))
  if (found === undefined) throw new Error(`no conformance case matches ${name}`)
  return found
}

t.test('the memory store passes the conformance suite', (t) => runStoreConformance(t, memoryBackend()))

t.test('the suite fails a store that never announces changes', async (t) => {
  const deaf = (namespace: string): AnonKeyStore => ({ ...memoryStore({ namespace }), subscribe: async () => async () => {} })
  const check = conformanceCase({ createStore: deaf, notificationTimeoutMs: 100 }, /^subscribe hears every change/)
  await t.rejects(check.run(), /never delivered a notification of initialize within 100 ms/)
})

t.test('the suite fails a store that keeps old keys readable', async (t) => {
  const backend = memoryBackend()
  const written: string[] = []
  const leaky = async (namespace: string): Promise<AnonKeyStore> => {
    const store = await backend.createStore(namespace)
    return {
      ...store,
      initialize: async (key) => { written.push(key); return store.initialize(key) },
      rotate: async (change) => { written.push(change.newKey); return store.rotate(change) }
    }
  }
  const check = conformanceCase({ createStore: leaky, readRaw: async () => written.join('\n') }, /^rotate makes the new key current/)
  await t.rejects(check.run(), /a previous key can be read back in plain text/)
})

t.test('the suite fails a store whose rotations are not atomic', async (t) => {
  // Reads the state, waits, then writes what it computed: concurrent rotations overwrite each other.
  const shared = new Map<string, { state: KeyState, version: number }>()
  const racy = (namespace: string): AnonKeyStore => {
    if (!shared.has(namespace)) shared.set(namespace, { state: { currentKey: null, previousKeys: [] }, version: 0 })
    const data = shared.get(namespace) as { state: KeyState, version: number }
    const snapshot = () => ({ version: data.version, ...data.state })
    return {
      ...memoryStore({ namespace }),
      load: async () => snapshot(),
      initialize: async (key) => {
        if (data.state.currentKey === null) data.state = { currentKey: key, previousKeys: [] }
        return snapshot()
      },
      rotate: async (change) => {
        const read = data.state
        await new Promise((resolve) => setTimeout(resolve, 5))
        const result = rotateState(read, change) as { state: KeyState, retired: PreviousKeyRecord }
        data.state = result.state
        data.version += 1
        return { snapshot: snapshot(), retired: result.retired }
      }
    }
  }
  const check = conformanceCase({ createStore: racy, concurrency: 4 }, /^concurrent rotations/)
  await t.rejects(check.run(), /the final current key|a previous key was lost|two rotations retired the same key|never retired/)
})

t.test('the usage case passes a store without the optional recordUsage', async (t) => {
  const withoutUsage = (namespace: string): AnonKeyStore => {
    const { recordUsage, ...rest } = memoryStore({ namespace })
    return rest
  }
  await conformanceCase({ createStore: withoutUsage }, /^recordUsage/).run()
  t.pass('nothing to check, nothing refused')
})
