import t from 'tap'
import { assertError, internalsOf, startApp, useKey } from '../helpers/app.js'
import { memoryStore, type AnonKeyStore, type ProjectSnapshot } from '../../lib/index.js'
import { generateAnonKey } from '../../lib/stores/index.js'
import { keyHandle } from '../../lib/conformance/index.js'
import { countingStore } from '../helpers/counting-store.js'
import { eventually } from '../helpers/eventually.js'

/** A memoryStore whose load() can be held: it reads the state when called and answers when released. */
function holdableStore (): AnonKeyStore & { hold: () => void, release: () => void } {
  const base = memoryStore()
  let gate: Promise<void> | null = null
  let open: () => void = () => {}
  const store = {
    ...base,
    hold () { gate = new Promise<void>((resolve) => { open = resolve }) },
    release () { gate = null; open() },
    async load (project: string): Promise<ProjectSnapshot> {
      const snapshot = await base.load(project)
      if (gate !== null) await gate
      return snapshot
    }
  }
  return store
}

/** A memoryStore that never announces a change, as a store whose notifications are lost. */
function silentStore (): AnonKeyStore {
  const base = memoryStore()
  return { ...base, subscribe: async () => async () => {} }
}

t.test('a reload that read the store before a rotation never brings the old key back', async (t) => {
  const store = holdableStore()
  const app = await startApp(t, { store })
  const old = (await app.anonKey.get()) as string
  store.hold()
  const staleReload = internalsOf(app).refresh() // reads the state now, answers later
  const { anonKey: rotated } = await app.anonKey.rotate({ gracePeriodHours: 0 })
  store.release()
  await staleReload
  await internalsOf(app).refresh()
  t.equal((await useKey(app, rotated)).statusCode, 200, 'the new key verifies')
  assertError(t, await useKey(app, old), 401, 'ANON_KEY_EXPIRED')
})

t.test('refreshes asked for while a reload runs are folded into one more reload', async (t) => {
  const holdable = holdableStore()
  const { store, count, reset } = countingStore(holdable)
  const app = await startApp(t, { store })
  await new Promise((resolve) => setImmediate(resolve))
  reset()
  holdable.hold()
  const first = internalsOf(app).refresh()
  const others = [internalsOf(app).refresh(), internalsOf(app).refresh(), internalsOf(app).refresh()]
  holdable.release()
  await Promise.all([first, ...others])
  await eventually('the folded reload', () => count('load') >= 2, 2000)
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(count('load'), 2, 'one reload running, and one more for the three that arrived meanwhile')
})

t.test('refresh() picks up a change the store did not announce', async (t) => {
  const store = silentStore()
  const app = await startApp(t, { store, cacheTtlMs: 2 ** 31 - 1 })
  const old = (await app.anonKey.get()) as string
  const next = generateAnonKey()
  await keyHandle(store).rotate({ newKey: next, now: Date.now(), expiresAt: Date.now() })
  t.equal((await useKey(app, old)).statusCode, 200, 'without a notification the cache still holds the old state')
  await internalsOf(app).refresh()
  t.equal((await useKey(app, next)).statusCode, 200)
  assertError(t, await useKey(app, old), 401, 'ANON_KEY_EXPIRED')
})

t.test('the cache reloads at most cacheTtlMs after the last refresh when no notification comes', async (t) => {
  const store = silentStore()
  const app = await startApp(t, { store, cacheTtlMs: 20 })
  const next = generateAnonKey()
  await keyHandle(store).rotate({ newKey: next, now: Date.now(), expiresAt: Date.now() + 3_600_000 })
  const deadline = Date.now() + 5000
  while ((await useKey(app, next)).statusCode !== 200 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal((await useKey(app, next)).statusCode, 200, 'the new key verifies after the fallback reload')
})
