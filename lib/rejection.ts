import { ERROR_CODES, type ErrorBody } from './errors.js'

export type RejectionCode = 'AUTH_INVALID_CREDENTIALS' | 'ANON_KEY_EXPIRED' | 'ANON_KEY_REVOKED'

/** What verifyAnonKey can refuse with: a 401 for the key, a 403 for its origin, a 503 for a tenant it cannot load. */
export type RefusalCode = RejectionCode | 'ANON_KEY_ORIGIN_NOT_ALLOWED' | 'STORE_UNAVAILABLE'

const MESSAGES: Record<RefusalCode, string> = {
  AUTH_INVALID_CREDENTIALS: 'A valid anon key is required in the Authorization header as "Bearer anon_…".',
  ANON_KEY_EXPIRED: 'This anon key was rotated and its grace period has ended.',
  ANON_KEY_REVOKED: 'This anon key was revoked.',
  ANON_KEY_ORIGIN_NOT_ALLOWED: 'This anon key may not be used from this origin.',
  STORE_UNAVAILABLE: 'The keys of this project could not be loaded right now.'
}

/**
 * What verifyAnonKey hands to `done()` for a refused request.
 *
 * Deliberately not an Error: Fastify's default error handler renders an Error in Fastify's own format, but
 * sends any other value as it is, so this object reaches the client in the contract's format whether
 * verifyAnonKey runs as a plain hook or inside @fastify/auth. A host's own error handler still receives it,
 * with `statusCode`, `code` and `message` like any Fastify error.
 */
export class AnonKeyRejection {
  readonly error: RefusalCode
  readonly code: RefusalCode
  readonly message: string
  readonly statusCode: number
  readonly nextActions: string

  constructor (code: RefusalCode) {
    this.error = code
    this.code = code
    this.message = MESSAGES[code]
    this.statusCode = ERROR_CODES[code].statusCode
    this.nextActions = ERROR_CODES[code].nextActions
  }

  toJSON (): ErrorBody {
    return { error: this.error, message: this.message, statusCode: this.statusCode, nextActions: this.nextActions }
  }
}

/**
 * One rejection per code, shared by every request: refusing a request allocates nothing. The rejections
 * themselves are not frozen: pino's error serializer (Fastify logs every 4xx) tags the object it logs with a
 * symbol and removes it again, and on a frozen object that throws, turning the 401 into Fastify's own format.
 */
export const REJECTIONS: Readonly<Record<RefusalCode, AnonKeyRejection>> = Object.freeze({
  AUTH_INVALID_CREDENTIALS: new AnonKeyRejection('AUTH_INVALID_CREDENTIALS'),
  ANON_KEY_EXPIRED: new AnonKeyRejection('ANON_KEY_EXPIRED'),
  ANON_KEY_REVOKED: new AnonKeyRejection('ANON_KEY_REVOKED'),
  ANON_KEY_ORIGIN_NOT_ALLOWED: new AnonKeyRejection('ANON_KEY_ORIGIN_NOT_ALLOWED'),
  STORE_UNAVAILABLE: new AnonKeyRejection('STORE_UNAVAILABLE')
})
