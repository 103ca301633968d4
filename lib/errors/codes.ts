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
  ANON_KEY_APP_NOT_ALLOWED: {
    statusCode: 403,
    nextActions: 'This anon key is restricted to its allowedApps. Send X-Android-Package and X-Android-Cert, or X-Ios-Bundle-Identifier, of one of them, or ask an admin to add this app (PATCH /api/secrets/anon-keys/:name).'
  },
  ANON_KEY_ATTESTATION_REQUIRED: {
    statusCode: 401,
    nextActions: 'This anon key requires an attestation token (such as Firebase App Check\'s): send a fresh one from the app in the attestation header.'
  },
  ANON_KEY_ATTESTATION_INVALID: {
    statusCode: 401,
    nextActions: 'Get a fresh attestation token from the app\'s attestation provider and retry; a token is checked against the provider\'s keys, issuer, audience and expiry.'
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
  },
  // The codes below render an error that the host raised on an admin route (a global rate limit, a maintenance
  // hook, an authorize that throws), keeping the host's status. RATE_LIMITED is also anonKeyRateLimit's 429.
  METHOD_NOT_ALLOWED: { statusCode: 405, nextActions: 'Use the method the route documents.' },
  REQUEST_TIMEOUT: { statusCode: 408, nextActions: 'Send the request again.' },
  GONE: { statusCode: 410, nextActions: 'This route is no longer served here; ask the operator where it moved.' },
  RATE_LIMITED: { statusCode: 429, nextActions: 'Too many requests: wait for the number of seconds in the Retry-After header, then retry.' },
  CLIENT_ERROR: { statusCode: 400, nextActions: 'The server refused the request; fix it as the message says before retrying.' },
  NOT_IMPLEMENTED: { statusCode: 501, nextActions: 'This server does not offer this operation.' },
  BAD_GATEWAY: { statusCode: 502, nextActions: 'Retry later.' },
  SERVICE_UNAVAILABLE: { statusCode: 503, nextActions: 'The service is unavailable for now: retry after the Retry-After header, if any, or later.' },
  GATEWAY_TIMEOUT: { statusCode: 504, nextActions: 'Retry later.' },
  SERVER_ERROR: { statusCode: 500, nextActions: 'Retry later. If it persists, check the server logs.' }
} as const

/**
 * The code of an error a host raised with this HTTP status, one stable code a status. Statuses not named here
 * fall back to CLIENT_ERROR (4xx) or SERVER_ERROR (5xx), with the host's status kept on the answer.
 */
export const HOST_ERROR_CODES: Readonly<Record<number, ErrorCode>> = {
  400: 'INVALID_INPUT',
  401: 'AUTH_INVALID_CREDENTIALS',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  410: 'GONE',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  500: 'INTERNAL_ERROR',
  501: 'NOT_IMPLEMENTED',
  502: 'BAD_GATEWAY',
  503: 'SERVICE_UNAVAILABLE',
  504: 'GATEWAY_TIMEOUT'
}

/** The stable code for a host error of this status (400 to 599). */
export function hostErrorCode (statusCode: number): ErrorCode {
  return HOST_ERROR_CODES[statusCode] ?? (statusCode < 500 ? 'CLIENT_ERROR' : 'SERVER_ERROR')
}

export type ErrorCode = keyof typeof ERROR_CODES

/** The codes only a host's error gets (see HOST_ERROR_CODES); the plugin never raises them itself. */
export type HostErrorCode = 'METHOD_NOT_ALLOWED' | 'REQUEST_TIMEOUT' | 'GONE' | 'RATE_LIMITED' | 'CLIENT_ERROR' |
  'NOT_IMPLEMENTED' | 'BAD_GATEWAY' | 'SERVICE_UNAVAILABLE' | 'GATEWAY_TIMEOUT' | 'SERVER_ERROR'

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
export function anonKeyError (code: ErrorCode, message: string, options?: { cause?: unknown, nextActions?: string }): Error & { code: ErrorCode, statusCode: number, nextActions?: string } {
  const error: Error & { nextActions?: string } = new errorClasses[code](message)
  if (options?.cause !== undefined) error.cause = options.cause
  // When the code's usual advice does not fit this case.
  if (options?.nextActions !== undefined) error.nextActions = options.nextActions
  return error as Error & { code: ErrorCode, statusCode: number }
}

export function isErrorCode (value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value)
}

export function errorBody (code: ErrorCode, message: string): ErrorBody {
  return { error: code, message, statusCode: ERROR_CODES[code].statusCode, nextActions: ERROR_CODES[code].nextActions }
}
