import { ERROR_CODES, type ErrorBody } from './codes.js'

export type RejectionCode = 'AUTH_INVALID_CREDENTIALS' | 'ANON_KEY_EXPIRED' | 'ANON_KEY_REVOKED'

/**
 * What verifyAnonKey can refuse with: a 401 for the key or its attestation token, a 403 for its origin or app, a
 * 503 for a tenant it cannot load, or a 500 when it is used where the plugin is not registered; and the 429 of
 * anonKeyRateLimit.
 */
export type RefusalCode = RejectionCode | 'ANON_KEY_ORIGIN_NOT_ALLOWED' | 'ANON_KEY_APP_NOT_ALLOWED' | 'ANON_KEY_ATTESTATION_REQUIRED' |
  'ANON_KEY_ATTESTATION_INVALID' | 'STORE_UNAVAILABLE' | 'INTERNAL_ERROR' | 'RATE_LIMITED'

/**
 * What verifyAnonKey hands to `done()` (or rejects with, when awaited) for a refused request.
 *
 * Deliberately not an Error: Fastify's default error handler renders an Error in Fastify's own format, but
 * sends any other value as it is, so this object reaches the client in the contract's format whether
 * verifyAnonKey runs as a plain hook or inside @fastify/auth. A host's own error handler still receives it,
 * with `statusCode`, `code` and `message` like any Fastify error.
 *
 * Every refusal is a new object: a host error handler may change the one it receives (append to `message`,
 * tag it for its logs), and nothing it does may reach another request's answer. Building one costs a few
 * field writes, next to the SHA-256 that refusing a well-formed key already takes.
 */
export class AnonKeyRejection {
  readonly error: RefusalCode
  readonly code: RefusalCode
  readonly message: string
  readonly statusCode: number
  readonly nextActions: string

  constructor (code: RefusalCode, message: string = ERROR_CODES[code].message, nextActions: string = ERROR_CODES[code].nextActions) {
    this.error = code
    this.code = code
    this.message = message
    this.statusCode = ERROR_CODES[code].statusCode
    this.nextActions = nextActions
  }

  toJSON (): ErrorBody {
    return { error: this.error, message: this.message, statusCode: this.statusCode, nextActions: this.nextActions }
  }
}
