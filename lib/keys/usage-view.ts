import { KeyUses } from '../domain/key-usage.js'
import { emptyHistory, mergeUsage, type UsageHistory } from '../domain/usage-history.js'
import { anonKeyError } from '../errors/codes.js'
import type { AnonKeyStore } from '../stores/interface.js'
import type { UsageView } from './key-info.js'
import type { Mirror } from './mirror.js'

/** A store that keeps a usage history. */
export type HistoryStore = AnonKeyStore & Required<Pick<AnonKeyStore, 'recordUsage' | 'loadUsage'>>

/** The store, when it keeps a usage history; else 501 NOT_IMPLEMENTED naming the missing methods. */
export function requireUsageHistory (store: AnonKeyStore): HistoryStore {
  if (store.loadUsage !== undefined && store.recordUsage !== undefined) return store as HistoryStore
  const missing = [store.recordUsage === undefined ? 'recordUsage()' : null, store.loadUsage === undefined ? 'loadUsage()' : null].filter(Boolean).join(' and ')
  throw anonKeyError('NOT_IMPLEMENTED', `The key store keeps no usage history: it has no ${missing} ${missing.includes(' and ') ? 'methods' : 'method'}.`, {
    nextActions: `Use a built-in store (memoryStore, postgresStore, redisStore, sqliteStore), or add ${missing} to the store (see docs/writing-a-store.md).`
  })
}

/** Every instance's usage of a project's keys: the store's history (when it keeps one) and this instance's counts not handed over yet. */
export async function usageHistory (mirror: Mirror, project: string): Promise<UsageHistory> {
  const store = mirror.options.store
  const kept = store.loadUsage === undefined
    ? emptyHistory()
    : await mirror.call('loadUsage', () => (store as HistoryStore).loadUsage(project))
  const unreported = mirror.unreported(project)
  return unreported === undefined ? kept : mergeUsage(kept, unreported.unreported(Date.now()))
}

/** How the listings judge a project's keys' usage. */
export async function usageView (mirror: Mirror, project: string): Promise<UsageView> {
  return { uses: new KeyUses(await usageHistory(mirror, project)), safeToRevokeAfterHours: mirror.options.safeToRevokeAfterHours }
}

/** The view of keys just made: nobody used them yet. */
export function unusedView (mirror: Mirror): UsageView {
  return { uses: new KeyUses(emptyHistory()), safeToRevokeAfterHours: mirror.options.safeToRevokeAfterHours }
}
