import { isAnonKey } from './key.js'
import { isKeyName } from './names.js'
import { keySettingsProblem } from './key-settings.js'
import { normaliseAllowedOrigins } from './origins.js'

const DIGEST = /^[0-9a-f]{64}$/

const isTime = (value: unknown): boolean => typeof value === 'number' && Number.isFinite(value)

function recordProblem (record: any, where: string): string | null {
  if (record === null || typeof record !== 'object') return `${where} is not an object`
  if (typeof record.digest !== 'string' || !DIGEST.test(record.digest)) return `${where}.digest is not a SHA-256 digest`
  if (!isTime(record.rotatedAt) || !isTime(record.expiresAt)) return `${where} has no rotatedAt or expiresAt`
  if (record.revokedAt !== null && !isTime(record.revokedAt)) return `${where}.revokedAt is neither null nor a time`
  return null
}

/**
 * What is wrong with a project snapshot a store handed back, or null. A buggy adapter's answer is checked
 * whole before the cache is rebuilt from it, so that verification goes on with the last good keys.
 */
export function projectProblem (snapshot: any): string | null {
  if (snapshot === null || typeof snapshot !== 'object') return 'the snapshot is not an object with a version'
  if (!Number.isSafeInteger(snapshot.version) || snapshot.version < 0) return 'the snapshot\'s version is not a safe non-negative integer'
  const state = snapshot.state
  if (state === null || typeof state !== 'object' || !Array.isArray(state.keys)) return 'the snapshot has no state with a keys array'
  if (state.revision !== undefined && typeof state.revision !== 'string') return 'the snapshot\'s revision is not a string'
  const names = new Set<unknown>()
  if (state.deletedKeys !== undefined && !Array.isArray(state.deletedKeys)) return 'the snapshot\'s deletedKeys is not an array'
  for (const [index, key] of state.keys.entries()) {
    const where = `keys[${index}]`
    if (key === null || typeof key !== 'object' || !isKeyName(key.name)) return `${where} has no valid name`
    if (names.has(key.name)) return `${where}.name "${key.name as string}" appears twice`
    names.add(key.name)
    if (!isAnonKey(key.currentKey)) return `${where}.currentKey is not an anon key`
    if (!Array.isArray(key.previousKeys)) return `${where}.previousKeys is not an array`
    const problem = recordsProblem(key.previousKeys, `${where}.previousKeys`)
    if (problem !== null) return problem
    if (key.allowedOrigins !== null && 'problem' in normaliseAllowedOrigins(key.allowedOrigins)) return `${where}.allowedOrigins is not valid`
    const settings = keySettingsProblem(key)
    if (settings !== null) return `${where}: ${settings}`
  }
  return recordsProblem(state.deletedKeys ?? [], 'deletedKeys')
}

/** What is wrong with the retired keys a store handed back, or null. */
export function retiredProblem (records: unknown): string | null {
  if (!Array.isArray(records)) return 'the retired keys are not an array'
  return recordsProblem(records, 'retired')
}

function recordsProblem (records: unknown[], where: string): string | null {
  for (const [position, record] of records.entries()) {
    const problem = recordProblem(record, `${where}[${position}]`)
    if (problem !== null) return problem
  }
  return null
}
