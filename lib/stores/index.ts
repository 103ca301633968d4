/**
 * `fastify-anon-key/store`: what an adapter author needs. The interface a store implements, the project
 * document it keeps, and the pure rules that change it (the same functions every built-in store and the plugin
 * use), so that a script or an adapter never re-implements a rule.
 */
export type { AnonKeyStore, ProjectSnapshot, RetireKeys, StateChange, StoreLog, SubscribeOptions } from './interface.js'
export { DEFAULT_KEY_NAME, isKeyName, isProject, isTenantId, KEY_NAME_PATTERN, SINGLE_PROJECT, TENANT_ID_PATTERN } from '../domain/names.js'
export { emptyProject, findKey, fromLegacy, keySnapshot } from '../domain/project.js'
export type { KeySnapshot, LegacyKeyState, NamedKey, PreviousKeyRecord, ProjectState, RetiredKeyRecord } from '../domain/project.js'
export { isStillValid, keepRetired, pruneProject, pruneRetired, RETIRED_RECORD_LIMIT, RETIRED_RETENTION_MS, retiredAt } from '../domain/retention.js'
export type { PrunedProject } from '../domain/retention.js'
export { createKey, deleteKey, initializeProject, isRefusal, recordUsage, revokePrevious, rotateKey, updateKey } from '../domain/transitions.js'
export type {
  CreateKeyChange, DeleteKeyChange, DeleteKeyResult, InitializeChange, Refusal, RevokePreviousChange, RevokePreviousResult,
  RotateKeyChange, RotateKeyResult, UpdateKeyChange
} from '../domain/transitions.js'
export type { UsageReport } from '../domain/usage.js'
export { emptyHistory, hourOf, mergeUsage, trimUsage, USAGE_HISTORY_MS } from '../domain/usage-history.js'
export type { KeyHourCount, KeyLastUse, RefusedHourCount, RefusedUsageCode, UsageBatch, UsageHistory } from '../domain/usage-history.js'
