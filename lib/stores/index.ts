/**
 * `fastify-anon-key/store`: what an adapter author needs. The interface a store implements, the project document
 * it keeps and its record types, the rules a store applies itself (which retired keys it keeps, how a 0.1 document
 * reads), and the key helpers its tests build documents with. The changes themselves (rotate, revoke…) are the
 * plugin's: a store only runs the function it is handed in `update`.
 */
export type { AnonKeyStore, ChangeListener, HeardChange, ProjectSnapshot, RetireKeys, StateChange, StoreLog, SubscribeOptions } from './interface.js'
export { DEFAULT_KEY_NAME, isKeyName, isProject, isTenantId, KEY_NAME_PATTERN, SINGLE_PROJECT, TENANT_ID_PATTERN } from '../domain/names.js'
export { emptyProject, fromLegacy } from '../domain/project.js'
export type { LegacyKeyState, NamedKey, PreviousKeyRecord, ProjectState, RetiredKeyRecord } from '../domain/project.js'
export { keepRetired, RETIRED_RECORD_LIMIT, RETIRED_RETENTION_MS, retiredAt } from '../domain/retention.js'
export { ANON_KEY_PATTERN, digestOf, fingerprintOf, generateAnonKey, isAnonKey } from '../domain/key.js'
export { emptyHistory, mergeUsage, trimUsage } from '../domain/usage-history.js'
export type { KeyHourCount, KeyLastUse, RefusedHourCount, RefusedUsageCode, UsageBatch, UsageHistory } from '../domain/usage-history.js'
