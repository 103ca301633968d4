import { isAnonKey } from './domain/key.js'

const isTime = (value: unknown): boolean => typeof value === 'number' && Number.isFinite(value)

/**
 * What is wrong with a snapshot a store handed back, or null when the cache can take it. A store adapter
 * with a bug (a missing field, a string where a number belongs) must not leave the cache half-updated nor
 * make verification throw; the cache keeps its last good snapshot instead. Pure.
 */
export function snapshotProblem (snapshot: unknown): string | null {
  if (snapshot === null || typeof snapshot !== 'object') return 'it is not an object'
  const { version, currentKey, previousKeys } = snapshot as Record<string, unknown>
  if (!isTime(version)) return 'version is not a finite number'
  if (currentKey !== null && !isAnonKey(currentKey)) return 'currentKey is neither null nor an anon key'
  if (!Array.isArray(previousKeys)) return 'previousKeys is not an array'
  for (const [index, record] of previousKeys.entries()) {
    if (record === null || typeof record !== 'object') return `previousKeys[${index}] is not an object`
    const { digest, rotatedAt, expiresAt, revokedAt } = record as Record<string, unknown>
    // Its length is enough: a digest of other characters only never matches a key. Checking each character of
    // every record on every snapshot was most of a rotation's cost once a thousand records are held.
    if (typeof digest !== 'string' || digest.length !== 64) return `previousKeys[${index}].digest is not 64 characters`
    if (!isTime(rotatedAt)) return `previousKeys[${index}].rotatedAt is not a finite number`
    if (!isTime(expiresAt)) return `previousKeys[${index}].expiresAt is not a finite number`
    if (revokedAt !== null && !isTime(revokedAt)) return `previousKeys[${index}].revokedAt is neither null nor a finite number`
  }
  return null
}

/**
 * What is wrong with a project snapshot a store handed back, beyond its keys (which `snapshotProblem` checks once
 * a key is read from it), or null. A store adapter with a bug must make the operation fail with a clear TypeError,
 * never verification throw on a half-read document. Pure.
 */
export function projectSnapshotProblem (snapshot: unknown): string | null {
  if (snapshot === null || typeof snapshot !== 'object') return 'it is not an object'
  const { version, state } = snapshot as Record<string, unknown>
  if (!isTime(version)) return 'version is not a finite number'
  if (state === null || typeof state !== 'object') return 'state is not an object'
  const { keys, deletedKeys } = state as Record<string, unknown>
  if (!Array.isArray(keys)) return 'state.keys is not an array'
  if (!Array.isArray(deletedKeys)) return 'state.deletedKeys is not an array'
  for (const [index, key] of keys.entries()) {
    if (key === null || typeof key !== 'object' || typeof (key as Record<string, unknown>).name !== 'string') return `state.keys[${index}] is not a named key`
  }
  return null
}
