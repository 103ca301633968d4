import assert from 'node:assert/strict'
import { digestOf } from '../domain/key.js'
import { DEFAULT_KEY_NAME, SINGLE_PROJECT } from '../domain/names.js'
import { findKey, type NamedKey, type ProjectState } from '../domain/project.js'
import { createKey, deleteKey, isRefusal, rotateKey, updateKey, type Refusal, type StateChange } from '../domain/transitions.js'
import type { AnonKeyStore } from '../stores/interface.js'
import type { StoreCase } from './case.js'
import { assertNotStoredInPlain } from './plain-text.js'
import { HOUR_MS, keys, storeWithKey } from './tools.js'

const MAX_KEYS = 50

/** Runs a transition on the single project; fails the case on a refusal. */
async function apply<T> (
  store: AnonKeyStore,
  change: (state: ProjectState) => StateChange<T | Refusal>
): Promise<{ state: ProjectState, version: number, result: T }> {
  const { snapshot, result } = await store.update(SINGLE_PROJECT, change)
  assert.ok(!isRefusal(result), `a change was refused: ${JSON.stringify(result)}`)
  return { state: snapshot.state, version: snapshot.version, result }
}

function named (state: ProjectState, name: string): NamedKey {
  const key = findKey(state, name)
  assert.ok(key !== undefined, `the name "${name}" is missing`)
  return key
}

export const namesCases: StoreCase[] = [
  {
    name: 'named keys: creating, patching, rotating and deleting one name leaves every other name as it was',
    async run (tools) {
      const { store: handle, namespace } = await storeWithKey(tools)
      const store = handle.store
      const [webKey, iosKey, nextWebKey] = keys(3)
      const now = Date.now()
      await apply(store, (state) => createKey(state, { name: 'web', key: webKey, now, description: 'web app', allowedOrigins: ['https://app.example.com'], maxKeys: MAX_KEYS }))
      const before = (await apply(store, (state) => createKey(state, { name: 'ios', key: iosKey, now, maxKeys: MAX_KEYS }))).state
      assert.deepEqual(before.keys.map((key) => key.name), ['default', 'ios', 'web'], 'names are not kept sorted')
      await apply(store, (state) => updateKey(state, { name: 'web', description: 'the web app' }))
      await apply(store, (state) => rotateKey(state, { name: 'web', newKey: nextWebKey, now: now + 1, expiresAt: now + HOUR_MS }))
      const { state: after } = await apply(store, (state) => deleteKey(state, { name: 'ios', now: now + 2 }))
      const loaded = (await (await tools.store(namespace)).load(SINGLE_PROJECT)).state
      assert.deepEqual(loaded, after, 'another instance loads another document than the one the last update returned')
      assert.deepEqual(named(loaded, DEFAULT_KEY_NAME), named(before, DEFAULT_KEY_NAME), 'a change to other names changed `default`')
      const web = named(loaded, 'web')
      assert.equal(web.currentKey, nextWebKey, 'the rotation of `web` was lost')
      assert.equal(web.description, 'the web app', 'the patch of `web` was lost')
      assert.deepEqual(web.allowedOrigins, ['https://app.example.com'], 'a patch of the description lost the origins')
      assert.deepEqual(web.previousKeys.map((record) => record.digest), [digestOf(webKey)], 'the previous key of `web` is wrong')
      assert.equal(findKey(loaded, 'ios'), undefined, 'a deleted name is still there')
      const retired = await store.loadRetired(SINGLE_PROJECT)
      assert.deepEqual(retired.map((record) => [record.name, record.digest, record.revokedAt]), [['ios', digestOf(iosKey), now + 2]], 'the deleted key is not among the retired keys as revoked')
      await assertNotStoredInPlain(tools, namespace, [], [webKey, iosKey])
    }
  },
  {
    name: 'concurrent creations, patches, rotations and deletions of several names through several instances all land',
    async run (tools, settings) {
      const { namespace } = await storeWithKey(tools)
      const stores = await Promise.all(Array.from({ length: Math.max(2, Math.min(settings.instances, 4)) }, () => tools.store(namespace)))
      const on = (i: number): AnonKeyStore => stores[i % stores.length]
      const names = ['android', 'ios', 'web', 'partner']
      const now = Date.now()
      await Promise.all([
        ...names.map((name, i) => apply(on(i), (state) => createKey(state, { name, key: keys(1)[0], now, maxKeys: MAX_KEYS }))),
        apply(on(1), (state) => createKey(state, { name: 'doomed', key: keys(1)[0], now, maxKeys: MAX_KEYS }))
      ])
      const rotations = Math.max(1, Math.floor(settings.concurrency / names.length))
      const rotated = new Map<string, string[]>(names.map((name) => [name, []]))
      await Promise.all([
        ...names.flatMap((name, n) => Array.from({ length: rotations }, (_, i) => {
          const newKey = keys(1)[0]
          rotated.get(name)?.push(newKey)
          return apply(on(n + i), (state) => rotateKey(state, { name, newKey, now: now + 1 + i, expiresAt: now + HOUR_MS }))
        })),
        ...names.map((name, n) => apply(on(n + 1), (state) => updateKey(state, { name, description: `${name} app` }))),
        apply(on(2), (state) => deleteKey(state, { name: 'doomed', now: now + 1 })),
        apply(on(3), (state) => rotateKey(state, { name: DEFAULT_KEY_NAME, newKey: keys(1)[0], now: now + 1, expiresAt: now + HOUR_MS }))
      ])
      const { state, version } = { ...(await on(0).load(SINGLE_PROJECT)) }
      assert.deepEqual(state.keys.map((key) => key.name), ['android', 'default', 'ios', 'partner', 'web'], 'a creation or a deletion was lost')
      for (const name of names) {
        const key = named(state, name)
        assert.equal(key.description, `${name} app`, `the patch of "${name}" was lost`)
        assert.equal(key.previousKeys.length, rotations, `a rotation of "${name}" was lost`)
        assert.ok(rotated.get(name)?.includes(key.currentKey), `the current key of "${name}" is none of its rotated-in keys`)
      }
      assert.equal(named(state, DEFAULT_KEY_NAME).previousKeys.length, 1, 'the rotation of `default` was lost')
      assert.equal((await on(0).loadRetired(SINGLE_PROJECT)).filter((record) => record.name === 'doomed').length, 1, 'the deletion was lost')
      const changes = 1 + names.length + 1 + names.length * rotations + names.length + 1 + 1
      assert.equal(version, changes, `${changes} writes should give version ${changes}, got ${version}: a write was lost or doubled`)
    }
  },
  {
    name: 'a refused change writes nothing and resolves to the document as it was',
    async run (tools) {
      const { store: handle } = await storeWithKey(tools)
      const before = await handle.store.load(SINGLE_PROJECT)
      const { snapshot, result } = await handle.store.update(SINGLE_PROJECT, (state) => deleteKey(state, { name: DEFAULT_KEY_NAME, now: Date.now() }))
      assert.ok(isRefusal(result) && result.refused === 'CONFLICT', 'deleting `default` was not refused')
      assert.deepEqual(snapshot, before, 'a refused change did not resolve to the document as it was')
      assert.deepEqual(await handle.store.load(SINGLE_PROJECT), before, 'a refused change wrote something')
    }
  },
  {
    name: 'a change that throws rejects the update and writes nothing',
    async run (tools) {
      const { store: handle } = await storeWithKey(tools)
      const before = await handle.store.load(SINGLE_PROJECT)
      await assert.rejects(handle.store.update(SINGLE_PROJECT, () => { throw new Error('the change failed') }), /the change failed/, 'the error of the change did not reach the caller')
      assert.deepEqual(await handle.store.load(SINGLE_PROJECT), before, 'a change that threw wrote something')
    }
  }
]
