import { copyFileSync } from 'node:fs'
import type { Test } from 'tap'
import { memoryStore, postgresStore, redisStore, sqliteStore, type AnonKeyStore } from '../../lib/index.js'
import type { ProjectSnapshot } from '../../lib/stores/interface.js'
import { createPool, dropTableAtEnd, onPostgres } from './postgres.js'
import { onRedis, redisClient } from './redis.js'
import { uniqueNamespace } from './services.js'
import { openDatabase, sqliteFile } from './sqlite.js'

/**
 * One backend shared by several instances, as a deployment has it: `store()` gives each instance a store of its
 * own (its own pool, client or connection) on the same data. `save()` and `putBack()` take the single project's
 * data out and put it back as it was, the way a restore from a backup does, behind every instance's back.
 */
export interface SharedBackend {
  name: string
  store: () => AnonKeyStore
  save: () => Promise<unknown>
  putBack: (saved: unknown) => Promise<void>
}

/** A third-party store in a few lines: a Map of documents, announced in process, whose data can be put back. */
function restorableMemory (): SharedBackend {
  const backing = memoryStore({ namespace: uniqueNamespace('restorable') })
  let document: ProjectSnapshot | null = null
  const listeners = new Set<(project: string | null) => void>()
  const shared: AnonKeyStore = {
    namespace: backing.namespace,
    load: async (project) => document !== null && project === '' ? structuredClone(document) : backing.load(project),
    update: async (project, change) => {
      if (document !== null && project === '') {
        const step = change(structuredClone(document.state))
        if (!('next' in step)) return { snapshot: structuredClone(document), result: step.result }
        document = { version: document.version + 1, state: structuredClone(step.next) }
        for (const listener of listeners) queueMicrotask(() => listener(project))
        return { snapshot: structuredClone(document), result: step.result }
      }
      return backing.update(project, change)
    },
    loadRetired: (project) => backing.loadRetired(project),
    subscribe: async (listener) => {
      listeners.add(listener)
      const stop = await backing.subscribe(listener)
      return async () => { listeners.delete(listener); await stop() }
    },
    close: async () => {}
  }
  return {
    name: 'a third-party store',
    store: () => shared,
    save: async () => (await shared.load('')),
    putBack: async (saved) => { document = structuredClone(saved as ProjectSnapshot) }
  }
}

/** Runs `define` once per backend: a third-party store, PostgreSQL, Redis and SQLite. */
export function onEveryBackend (t: Test, define: (t: Test, backend: SharedBackend) => Promise<void>): void {
  t.test('on a third-party store', (t) => define(t, restorableMemory()))

  onPostgres(t, (t) => {
    t.test('PostgreSQL, rows put back', async (t) => {
      const admin = createPool(t)
      const tableName = uniqueNamespace('anon_keys_backend')
      dropTableAtEnd(t, admin, tableName)
      const namespace = 'ns'
      await define(t, {
        name: 'PostgreSQL',
        store: () => postgresStore({ pool: createPool(t), namespace, tableName }),
        save: async () => (await admin.query(`SELECT version, state FROM "${tableName}" WHERE namespace = $1 AND project = ''`, [namespace])).rows[0],
        putBack: async (saved) => {
          const row = saved as { version: number, state: unknown }
          await admin.query(`UPDATE "${tableName}" SET version = $2, state = $3 WHERE namespace = $1 AND project = ''`, [namespace, row.version, JSON.stringify(row.state)])
        }
      })
    })
  })

  onRedis(t, (t) => {
    t.test('Redis, keys deleted and put back', async (t) => {
      const admin = redisClient(t)
      const namespace = uniqueNamespace('backend')
      const hash = `{fastify-anon-key:${namespace}:}:state`
      t.teardown(async () => { await admin.del(hash, `{fastify-anon-key:${namespace}:}:retired`) })
      await define(t, {
        name: 'Redis',
        store: () => redisStore({ client: redisClient(t), namespace }),
        save: async () => await admin.dumpBuffer(hash),
        putBack: async (saved) => {
          await admin.del(hash)
          await admin.restore(hash, 0, saved as Buffer)
        }
      })
    })
  })

  t.test('SQLite, file copied back', async (t) => {
    const file = sqliteFile(t)
    // A rollback journal: the whole database is in the one file, which is what a copy of it takes.
    const connection = (): AnonKeyStore => sqliteStore({ database: openDatabase(t, file, { journalMode: 'DELETE' }) })
    await define(t, {
      name: 'SQLite',
      store: connection,
      save: async () => {
        const saved = `${file}.backup`
        copyFileSync(file, saved)
        return saved
      },
      putBack: async (saved) => { copyFileSync(saved as string, file) }
    })
  })
}
