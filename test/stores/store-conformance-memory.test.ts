import t from 'tap'
import { memoryStore } from '../../lib/index.js'
import { emptyProject, type ProjectSnapshot, type RetiredKeyRecord } from '../../lib/stores/index.js'
import type { AnonKeyStore } from '../../lib/stores/interface.js'
import { runStoreConformance, storeConformanceCases, type StoreConformanceOptions } from '../../lib/conformance/index.js'

/** One memoryStore per namespace: every "instance" the suite asks for shares it, as apps in one process would. */
function memoryBackend (): StoreConformanceOptions {
  const stores = new Map<string, AnonKeyStore>()
  const storeFor = (namespace: string): AnonKeyStore => {
    if (!stores.has(namespace)) stores.set(namespace, memoryStore({ namespace }))
    return stores.get(namespace) as AnonKeyStore
  }
  return {
    createStore: storeFor,
    readRaw: async (namespace) => JSON.stringify([await storeFor(namespace).load(''), await storeFor(namespace).loadRetired('')])
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
    // Keeps a copy of every document written, as a backend with a write-ahead log in plain text would.
    return {
      ...store,
      update: async (project, change) => {
        const outcome = await store.update(project, change)
        written.push(JSON.stringify(outcome.snapshot.state))
        return outcome
      }
    }
  }
  const check = conformanceCase({ createStore: leaky, readRaw: async () => written.join('\n') }, /^rotate makes the new key current/)
  await t.rejects(check.run(), /a previous key can be read back in plain text/)
})

t.test('the suite fails a store that drops retired keys (written before loadRetired existed)', async (t) => {
  const dropping = (namespace: string): AnonKeyStore => {
    const store = memoryStore({ namespace })
    return {
      ...store,
      update: (project, change) => store.update(project, (state) => {
        const step = change(state)
        return 'next' in step ? { result: step.result, next: step.next, announce: step.announce } : step
      })
    }
  }
  const check = conformanceCase({ createStore: dropping }, /^a retired key leaves the document/)
  await t.rejects(check.run(), /the retired key is not among the retired keys/)
})

t.test('the suite fails a store that never forgets retired keys', async (t) => {
  const hoarding = (namespace: string): AnonKeyStore => {
    const store = memoryStore({ namespace })
    const retired = new Map<string, RetiredKeyRecord[]>()
    return {
      ...store,
      update: (project, change) => store.update(project, (state) => {
        const step = change(state)
        if ('next' in step && step.retire !== undefined) retired.set(project, [...step.retire.records, ...retired.get(project) ?? []])
        return step
      }),
      loadRetired: async (project) => retired.get(project) ?? []
    }
  }
  const check = conformanceCase({ createStore: hoarding }, /^a retired key leaves the document/)
  await t.rejects(check.run(), /a retired key outlived the retention period/)
})

t.test('the suite fails a store whose updates are not atomic', async (t) => {
  // Reads the document, waits, then writes what it computed: concurrent updates overwrite each other.
  const shared = new Map<string, ProjectSnapshot>()
  const racy = (namespace: string): AnonKeyStore => ({
    ...memoryStore({ namespace }),
    load: async () => shared.get(namespace) ?? { version: 0, state: emptyProject() },
    update: async (project, change) => {
      const read = shared.get(namespace) ?? { version: 0, state: emptyProject() }
      await new Promise((resolve) => setTimeout(resolve, 5))
      const step = change(read.state)
      if (!('next' in step)) return { snapshot: read, result: step.result }
      const snapshot = { version: read.version + 1, state: step.next }
      shared.set(namespace, snapshot)
      return { snapshot, result: step.result }
    }
  })
  const check = conformanceCase({ createStore: racy, concurrency: 4 }, /^concurrent rotations/)
  await t.rejects(check.run(), /the final current key|a previous key was lost|two rotations retired the same key|never retired/)
})

t.test('the suite fails a store that keeps one document for every project', async (t) => {
  const blind = (namespace: string): AnonKeyStore => {
    const store = memoryStore({ namespace })
    return { ...store, load: () => store.load(''), update: (_project, change) => store.update('', change) }
  }
  const check = conformanceCase({ createStore: blind }, /^projects are isolated/)
  await t.rejects(check.run(), /a change to one project changed another/)
})

t.test('the suite fails a store that announces usage writes', async (t) => {
  const stores = new Map<string, AnonKeyStore>()
  const chatty = (namespace: string): AnonKeyStore => {
    if (!stores.has(namespace)) stores.set(namespace, memoryStore({ namespace }))
    const store = stores.get(namespace) as AnonKeyStore
    return {
      ...store,
      update: (project, change) => store.update(project, (state) => {
        const step = change(state)
        return 'next' in step ? { ...step, announce: true } : step
      })
    }
  }
  const check = conformanceCase({ createStore: chatty }, /^a write with announce: false/)
  await t.rejects(check.run(), /a usage write was announced/)
})

t.test('the suite fails a store that loses one of several concurrent changes to different names', async (t) => {
  let dropped = false
  const shared = new Map<string, AnonKeyStore>()
  const forgetful = (namespace: string): AnonKeyStore => {
    if (!shared.has(namespace)) shared.set(namespace, memoryStore({ namespace }))
    const store = shared.get(namespace) as AnonKeyStore
    return {
      ...store,
      update: (project, change) => store.update(project, (state) => {
        const step = change(state)
        // Drops the first patch: answers as if written, writes nothing.
        if (!dropped && 'next' in step && step.next.keys.some((key) => key.description.endsWith(' app'))) {
          dropped = true
          return { result: step.result }
        }
        return step
      })
    }
  }
  const check = conformanceCase({ createStore: forgetful }, /^concurrent creations, patches/)
  await t.rejects(check.run(), /the patch of ".*" was lost|a write was lost/)
})
