import Fastify from 'fastify'
import anonKey, { memoryStore, sqliteStore, verifyAnonKey, type AnonKeyStore, type SqliteDatabase, type VerifyResult } from 'fastify-anon-key'
import anonKeyAdminPage, { type AnonKeyAdminPageOptions } from 'fastify-anon-key/admin-page'
import { emptyProject, keepRetired, type ProjectSnapshot, type ProjectState, type RetiredKeyRecord, type StateChange } from 'fastify-anon-key/store'

/** An adapter of one's own, typed from the store subpath alone. */
export function ownStore (): AnonKeyStore {
  const projects = new Map<string, ProjectSnapshot>()
  const retired = new Map<string, RetiredKeyRecord[]>()
  return {
    namespace: 'mine',
    async load (project) { return projects.get(project) ?? { version: 0, state: emptyProject() } },
    async update<T> (project: string, change: (state: ProjectState) => StateChange<T>) {
      const before = projects.get(project) ?? { version: 0, state: emptyProject() }
      const step = change(before.state)
      if (!('next' in step)) return { snapshot: before, result: step.result }
      const snapshot = { version: before.version + 1, state: step.next }
      projects.set(project, snapshot)
      if (step.retire !== undefined) retired.set(project, keepRetired(retired.get(project) ?? [], step.retire))
      return { snapshot, result: step.result }
    },
    async loadRetired (project) { return retired.get(project) ?? [] },
    async subscribe () { return async () => {} },
    async close () {}
  }
}

/** The SQLite store, typed without better-sqlite3 installed: any database of that shape fits. */
export function onSqlite (database: SqliteDatabase): AnonKeyStore {
  return sqliteStore({ database, namespace: 'mine', tableName: 'keys', catchUpMs: 500 })
}

const store: AnonKeyStore = memoryStore()
const app = Fastify()
app.register(anonKey, { store, jwt: { secret: process.env.JWT_SECRET } }) // string | undefined, as the Quick start passes it
const pageOptions: AnonKeyAdminPageOptions = { routePrefix: '/anon-keys' }
app.register(anonKeyAdminPage, pageOptions)
app.get('/data', { onRequest: app.verifyAnonKey }, async (request) => {
  const fingerprint: string | undefined = request.anonKey?.fingerprint
  return { fingerprint }
})
app.get('/awaited', {
  onRequest: async (request, reply) => { await verifyAnonKey(request, reply) }
}, async (request) => ({ expiresAt: request.anonKey?.expiresAt ?? null }))
export async function check (): Promise<VerifyResult> {
  const rotated = await app.anonKey.rotate({ gracePeriodHours: 1 })
  const expiresAt: string = rotated.oldKeyExpiresAt
  return app.anonKey.verify(expiresAt)
}
