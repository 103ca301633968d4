import type { RateLimit } from '../domain/rate-limit.js'
import type { AnonKeyIdentity } from './project-keys.js'

/**
 * The rate limit of the key behind each identity that verifyAnonKey hands out (`request.anonKey`). Kept beside
 * the identity rather than on it, so the identity stays what the contract shows; an identity is rebuilt with
 * every change of the project's keys, so a changed limit applies from the next request on.
 */
const LIMITS = new WeakMap<Readonly<AnonKeyIdentity>, RateLimit>()

export function rememberRateLimit (identity: Readonly<AnonKeyIdentity>, limit: RateLimit): void {
  LIMITS.set(identity, limit)
}

/** The own rate limit of the key a request was verified with, or undefined (no key, or a key without one). */
export function rateLimitOf (identity: Readonly<AnonKeyIdentity> | null | undefined): RateLimit | undefined {
  return identity == null ? undefined : LIMITS.get(identity)
}
