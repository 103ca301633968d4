import createError, { type FastifyErrorConstructor } from '@fastify/error'

/** Every error code the plugin answers with, its HTTP status, and what the caller should do about it. */
export const ERROR_CODES = {
  INVALID_INPUT: {
    statusCode: 400,
    nextActions: 'Send no body, {} or {"gracePeriodHours": N} with N a whole number of hours within the allowed range.'
  },
  AUTH_INVALID_CREDENTIALS: {
    statusCode: 401,
    nextActions: 'Send a valid credential in the Authorization header as "Bearer <token>".'
  },
  ANON_KEY_EXPIRED: {
    statusCode: 401,
    nextActions: 'This anon key was rotated and its grace period is over. Update the client to the current anon key.'
  },
  ANON_KEY_REVOKED: {
    statusCode: 401,
    nextActions: 'This anon key was revoked. Update the client to the current anon key.'
  },
  FORBIDDEN: {
    statusCode: 403,
    nextActions: 'Use a token of a project admin.'
  },
  ANON_KEY_ORIGIN_NOT_ALLOWED: {
    statusCode: 403,
    nextActions: 'This anon key is restricted to its allowedOrigins. Call from one of them, or ask an admin to add this origin (PATCH /api/secrets/anon-keys/:name).'
  },
  ANON_KEY_NOT_INITIALIZED: {
    statusCode: 404,
    nextActions: 'Create the key with app.anonKey.initialize(), or register the plugin with autoInitialize: true.'
  },
  NOT_FOUND: {
    statusCode: 404,
    nextActions: 'List the previous keys that still verify with GET /api/secrets/anon-key/previous.'
  },
  CONFLICT: {
    statusCode: 409,
    nextActions: 'List the keys with GET /api/secrets/anon-keys: pick a name not taken, or delete a key when maxKeys names exist. The key named "default" cannot be deleted.'
  },
  PAYLOAD_TOO_LARGE: {
    statusCode: 413,
    nextActions: 'Send a smaller body: this route accepts at most {"gracePeriodHours": N}.'
  },
  UNSUPPORTED_MEDIA_TYPE: {
    statusCode: 415,
    nextActions: 'Send the body as JSON with "content-type: application/json", or send no body.'
  },
  INTERNAL_ERROR: {
    statusCode: 500,
    nextActions: 'Retry later. If it persists, check the server logs.'
  },
  STORE_UNAVAILABLE: {
    statusCode: 503,
    nextActions: 'The key store did not answer in time. Retry later; a rotation that timed out may still have happened, so check GET /api/metadata/anon-key first.'
  }
} as const

export type ErrorCode = keyof typeof ERROR_CODES

/** The body of every non-2xx answer. */
export interface ErrorBody {
  error: ErrorCode
  message: string
  statusCode: number
  nextActions?: string
}

type AnonKeyErrorConstructor = FastifyErrorConstructor<{ code: string, statusCode?: number }, [string]>

const errorClasses = Object.fromEntries(
  Object.entries(ERROR_CODES).map(([code, { statusCode }]) => [code, createError<[string]>(code, '%s', statusCode)])
) as Record<ErrorCode, AnonKeyErrorConstructor>

/** An error of the plugin, thrown by its routes and its programmatic API. */
export function anonKeyError (code: ErrorCode, message: string, options?: { cause?: unknown }): Error & { code: ErrorCode, statusCode: number } {
  const error = new errorClasses[code](message)
  if (options?.cause !== undefined) error.cause = options.cause
  return error as Error & { code: ErrorCode, statusCode: number }
}

export function isErrorCode (value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value)
}

export function errorBody (code: ErrorCode, message: string): ErrorBody {
  return { error: code, message, statusCode: ERROR_CODES[code].statusCode, nextActions: ERROR_CODES[code].nextActions }
}
