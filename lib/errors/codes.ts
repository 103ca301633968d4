import createError, { type FastifyErrorConstructor } from '@fastify/error'

/**
 * Every error code the plugin answers with: its HTTP status, the message it carries when the place that raises it
 * says nothing more, what the caller should do about it (where it is raised may give a more precise advice), and
 * what it means on an admin route (the OpenAPI document's description of the response).
 */
export const ERROR_CODES = {
  INVALID_INPUT: {
    statusCode: 400,
    message: 'The request is not valid.',
    nextActions: 'Fix what the message names, then send the request again.',
    meaning: 'the body or a path parameter is not valid'
  },
  AUTH_INVALID_CREDENTIALS: {
    statusCode: 401,
    message: 'A valid anon key is required in the Authorization header as "Bearer anon_…".',
    nextActions: 'Send a valid credential in the Authorization header as "Bearer <token>".',
    meaning: 'no admin token, or one that is not valid'
  },
  ANON_KEY_EXPIRED: {
    statusCode: 401,
    message: 'This anon key was rotated and its grace period has ended.',
    nextActions: 'This anon key was rotated and its grace period is over. Update the client to the current anon key.'
  },
  ANON_KEY_REVOKED: {
    statusCode: 401,
    message: 'This anon key was revoked.',
    nextActions: 'This anon key was revoked. Update the client to the current anon key.'
  },
  FORBIDDEN: {
    statusCode: 403,
    message: 'This route is for project admins only.',
    nextActions: 'Use a token of a project admin.',
    meaning: 'a valid token, but not a project admin'
  },
  ANON_KEY_ORIGIN_NOT_ALLOWED: {
    statusCode: 403,
    message: 'This anon key may not be used from this origin.',
    nextActions: 'This anon key is restricted to its allowedOrigins. Call from one of them, or ask an admin to add this origin (PATCH /api/secrets/anon-keys/:name).'
  },
  ANON_KEY_APP_NOT_ALLOWED: {
    statusCode: 403,
    message: 'This anon key may not be used by this app.',
    nextActions: 'This anon key is restricted to its allowedApps. Send X-Android-Package and X-Android-Cert, or X-Ios-Bundle-Identifier, of one of them, or ask an admin to add this app (PATCH /api/secrets/anon-keys/:name).'
  },
  ANON_KEY_ATTESTATION_REQUIRED: {
    statusCode: 401,
    message: 'This anon key needs an attestation token, and the request carries none.',
    nextActions: 'This anon key requires an attestation token (such as Firebase App Check\'s): send a fresh one from the app in the attestation header.'
  },
  ANON_KEY_ATTESTATION_INVALID: {
    statusCode: 401,
    message: 'The attestation token is not valid: malformed, forged, expired, or for another project.',
    nextActions: 'Get a fresh attestation token from the app\'s attestation provider and retry; a token is checked against the provider\'s keys, issuer, audience and expiry.'
  },
  ANON_KEY_NOT_INITIALIZED: {
    statusCode: 404,
    message: 'The store holds no anon key yet.',
    nextActions: 'Create the key with app.anonKey.initialize(), or register the plugin with autoInitialize: true.',
    meaning: 'the store holds no anon key yet'
  },
  NOT_FOUND: {
    statusCode: 404,
    message: 'Nothing here has this name or fingerprint.',
    nextActions: 'List the previous keys that still verify with GET /api/secrets/anon-key/previous.',
    meaning: 'no key has this name, or no valid previous key has this fingerprint'
  },
  CONFLICT: {
    statusCode: 409,
    message: 'The change conflicts with the keys as they are.',
    nextActions: 'List the keys with GET /api/secrets/anon-keys: pick a name not taken, or delete a key when maxKeys names exist. The key named "default" cannot be deleted.',
    meaning: 'the name is taken, maxKeys names exist already, or the key is "default", which cannot be deleted'
  },
  PAYLOAD_TOO_LARGE: {
    statusCode: 413,
    message: 'The body is larger than this route accepts.',
    nextActions: 'Send a smaller body: this route accepts at most {"gracePeriodHours": N}.',
    meaning: 'the body is over the size limit'
  },
  UNSUPPORTED_MEDIA_TYPE: {
    statusCode: 415,
    message: 'The body must be JSON (content-type: application/json), or absent.',
    nextActions: 'Send the body as JSON with "content-type: application/json", or send no body.',
    meaning: 'a body that is not JSON'
  },
  INTERNAL_ERROR: {
    statusCode: 500,
    message: 'Something went wrong on the server.',
    nextActions: 'Retry later. If it persists, check the server logs.',
    meaning: 'an unexpected failure'
  },
  NOT_IMPLEMENTED: {
    statusCode: 501,
    message: 'This server does not offer this operation.',
    nextActions: 'This server does not offer this operation.',
    meaning: 'the key store keeps no usage history (it has no recordUsage() and loadUsage())'
  },
  STORE_UNAVAILABLE: {
    statusCode: 503,
    message: 'The keys of this project could not be loaded right now.',
    nextActions: 'The key store did not answer in time. Retry later; a rotation that timed out may still have happened, so check GET /api/metadata/anon-key first.',
    meaning: 'the key store did not answer in time'
  },
  // The codes below render an error that the host raised on an admin route (a global rate limit, a maintenance
  // hook, an authorize that throws), keeping the host's status. RATE_LIMITED is also anonKeyRateLimit's 429.
  METHOD_NOT_ALLOWED: { statusCode: 405, message: 'This method is not allowed here.', nextActions: 'Use the method the route documents.' },
  REQUEST_TIMEOUT: { statusCode: 408, message: 'The request took too long.', nextActions: 'Send the request again.' },
  GONE: { statusCode: 410, message: 'This route is gone.', nextActions: 'This route is no longer served here; ask the operator where it moved.' },
  RATE_LIMITED: { statusCode: 429, message: 'Too many requests.', nextActions: 'Too many requests: wait for the number of seconds in the Retry-After header, then retry.' },
  CLIENT_ERROR: { statusCode: 400, message: 'The server refused the request.', nextActions: 'The server refused the request; fix it as the message says before retrying.' },
  BAD_GATEWAY: { statusCode: 502, message: 'An upstream server failed.', nextActions: 'Retry later.' },
  SERVICE_UNAVAILABLE: { statusCode: 503, message: 'The service is unavailable for now.', nextActions: 'The service is unavailable for now: retry after the Retry-After header, if any, or later.' },
  GATEWAY_TIMEOUT: { statusCode: 504, message: 'An upstream server did not answer in time.', nextActions: 'Retry later.' },
  SERVER_ERROR: { statusCode: 500, message: 'Something went wrong on the server.', nextActions: 'Retry later. If it persists, check the server logs.' }
} as const satisfies Record<string, { statusCode: number, message: string, nextActions: string, meaning?: string }>

/** The advice of an INVALID_INPUT raised by the rotate body, the one place where it fits. */
export const ROTATE_BODY_ADVICE = 'Send no body, {} or {"gracePeriodHours": N, "graceStartsAt": "rotation" | "first-use"} with N a whole number of hours within the allowed range.'

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
  'BAD_GATEWAY' | 'SERVICE_UNAVAILABLE' | 'GATEWAY_TIMEOUT' | 'SERVER_ERROR'

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
export function anonKeyError (
  code: ErrorCode,
  message: string,
  options?: { cause?: unknown, nextActions?: string }
): Error & { code: ErrorCode, statusCode: number, nextActions?: string } {
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
