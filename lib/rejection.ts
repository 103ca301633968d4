import { ERROR_CODES, type ErrorBody } from './errors.js'

export type RejectionCode = 'AUTH_INVALID_CREDENTIALS' | 'ANON_KEY_EXPIRED' | 'ANON_KEY_REVOKED'

const MESSAGES: Record<RejectionCode, string> = {
  AUTH_INVALID_CREDENTIALS: 'A valid anon key is required in the Authorization header as "Bearer anon_…".',
  ANON_KEY_EXPIRED: 'This anon key was rotated and its grace period has ended.',
  ANON_KEY_REVOKED: 'This anon key was revoked.'
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
  readonly error: RejectionCode
  readonly code: RejectionCode
  readonly message: string
  readonly statusCode = 401
  readonly nextActions: string

  constructor (code: RejectionCode) {
    this.error = code
    this.code = code
    this.message = MESSAGES[code]
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
export const REJECTIONS: Readonly<Record<RejectionCode, AnonKeyRejection>> = Object.freeze({
  AUTH_INVALID_CREDENTIALS: new AnonKeyRejection('AUTH_INVALID_CREDENTIALS'),
  ANON_KEY_EXPIRED: new AnonKeyRejection('ANON_KEY_EXPIRED'),
  ANON_KEY_REVOKED: new AnonKeyRejection('ANON_KEY_REVOKED')
})
