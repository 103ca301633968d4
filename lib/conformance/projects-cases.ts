import assert from 'node:assert/strict'
import { SINGLE_PROJECT } from '../domain/names.js'
import { emptyProject } from '../domain/project.js'
import type { StoreCase } from './case.js'
import { keyHandle } from './key-handle.js'
import { counter, HOUR_MS, keys, sleep } from './tools.js'

/** How long a case waits for a notification that must not come. */
const SILENCE_MS = 200

export const projectsCases: StoreCase[] = [
  {
    name: 'projects are isolated: a change to one project never touches another of the same namespace',
    async run (tools) {
      const namespace = tools.namespace()
      const store = await tools.store(namespace)
      const [a, b, single] = [keyHandle(store, 'tenant-a'), keyHandle(await tools.store(namespace), 'tenant-b'), keyHandle(store, SINGLE_PROJECT)]
      assert.deepEqual(await store.load('tenant-a'), { version: 0, state: emptyProject() }, 'a project never written does not load as version 0 and an empty document')
      const [keyA, keyB, keySingle] = keys(3)
      await a.initialize(keyA)
      await b.initialize(keyB)
      await single.initialize(keySingle)
      const beforeB = await store.load('tenant-b')
      const now = Date.now()
      await a.rotate({ newKey: keys(1)[0], now, expiresAt: now + HOUR_MS })
      await a.revoke({ now: now + 1 })
      assert.deepEqual(await store.load('tenant-b'), beforeB, 'a change to one project changed another')
      assert.equal((await single.load()).currentKey, keySingle, 'a change to a tenant changed the single project')
      assert.equal((await b.load()).currentKey, keyB, 'another project lost its key')
      assert.equal((await a.retired()).length, 1, 'the project changed lost its change')
      assert.deepEqual(await b.retired(), [], 'another project got the retired keys of the one changed')
    }
  },
  {
    name: 'one subscription hears every announced project by its id, from this instance and another',
    async run (tools) {
      const namespace = tools.namespace()
      const [listening, changing] = [await tools.store(namespace), await tools.store(namespace)]
      const heard = counter()
      await listening.subscribe(heard.listener)
      const projects = ['tenant-a', 'tenant-b', SINGLE_PROJECT, 'tenant.c_1']
      for (const project of projects) await keyHandle(changing, project).initialize(keys(1)[0])
      await keyHandle(listening, 'tenant-a').rotate({ newKey: keys(1)[0], now: Date.now(), expiresAt: Date.now() })
      await tools.waitFor('a notification of every project', () => projects.every((project) => heard.projects.includes(project)) &&
        heard.projects.filter((project) => project === 'tenant-a').length >= 2)
      assert.ok(!heard.projects.includes(null), 'a listener was told that changes were missed while nothing was cut')
    }
  },
  {
    name: 'a write with announce: false (usage figures) is not announced',
    async run (tools) {
      const namespace = tools.namespace()
      const [listening, changing] = [await tools.store(namespace), await tools.store(namespace)]
      const heard = counter()
      await listening.subscribe(heard.listener)
      const handle = keyHandle(changing, 'tenant-a')
      await handle.initialize(keys(1)[0])
      const now = Date.now()
      const rotated = await handle.rotate({ newKey: keys(1)[0], now, expiresAt: now + HOUR_MS })
      await tools.waitFor('the notifications of the initialize and the rotation', () => heard.calls >= 2)
      await sleep(SILENCE_MS)
      const calls = heard.calls
      assert.equal(await handle.recordUsage([{ digest: rotated?.retired.digest as string, requests: 2, lastSeenAt: now }]), 1, 'the usage report did not land')
      await sleep(SILENCE_MS)
      assert.equal(heard.calls, calls, 'a usage write was announced')
      assert.equal((await handle.load()).previousKeys[0].requests, 2, 'the usage write was not kept')
    }
  }
]
