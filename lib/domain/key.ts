import { hash, randomBytes } from 'node:crypto'

/** The only shape ever accepted as an anon key. */
export const ANON_KEY_PATTERN = /^anon_[0-9a-f]{64}$/

/** Length of a fingerprint: the first 12 hex characters of the key's SHA-256. */
export const FINGERPRINT_LENGTH = 12

export function generateAnonKey (): string {
  return 'anon_' + randomBytes(32).toString('hex')
}

export function isAnonKey (value: unknown): value is string {
  return typeof value === 'string' && value.length === 69 && ANON_KEY_PATTERN.test(value)
}

/**
 * SHA-256 of the key, hex: the only form in which a previous key is ever stored. One-shot `crypto.hash` (Node
 * 20.12 or later, hence `engines`) makes no Hash object, which the previous-key path pays on every request.
 */
export function digestOf (key: string): string {
  return hash('sha256', key)
}

export function fingerprintOfDigest (digest: string): string {
  return digest.slice(0, FINGERPRINT_LENGTH)
}

/** The name a key goes by in logs, events and listings. */
export function fingerprintOf (key: string): string {
  return fingerprintOfDigest(digestOf(key))
}

const FINGERPRINT_PATTERN = new RegExp(`^[0-9a-f]{${FINGERPRINT_LENGTH}}$`)

/** Whether `value` has the form of a fingerprint: FINGERPRINT_LENGTH lowercase hex characters. */
export function isFingerprint (value: unknown): value is string {
  return typeof value === 'string' && FINGERPRINT_PATTERN.test(value)
}
