import { Type, type TSchema } from '@sinclair/typebox'
import { ERROR_CODES, type ErrorCode } from './errors.js'

const EXAMPLE_KEY = 'anon_1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcd'

export const ErrorResponse = Type.Object({
  error: Type.String({ description: 'Error code for programmatic handling', examples: ['INVALID_INPUT'] }),
  message: Type.String({ description: 'Human-readable error message' }),
  statusCode: Type.Integer({ description: 'HTTP status code, equal to the response status' }),
  nextActions: Type.Optional(Type.String({ description: 'Suggested action to resolve the error' }))
}, { $id: 'AnonKeyErrorResponse', title: 'ErrorResponse' })

/** The error responses every admin route can give, plus the ones named. */
function errorResponses (...codes: ErrorCode[]): Record<number, TSchema> {
  const statuses = new Set<number>([401, 403, 500, 503, ...codes.map((code) => ERROR_CODES[code].statusCode)])
  return Object.fromEntries([...statuses].map((status) => [status, Type.Ref(ErrorResponse.$id as string)]))
}

export const GetAnonKeyResponse = Type.Object({
  anonKey: Type.String({ description: 'The current anon key', examples: [EXAMPLE_KEY] })
})

export function rotateBodySchema (maxGracePeriodHours: number, defaultGracePeriodHours: number): TSchema {
  return Type.Object({
    gracePeriodHours: Type.Optional(Type.Integer({
      minimum: 0,
      maximum: maxGracePeriodHours,
      default: defaultGracePeriodHours,
      description: 'How long the old key remains valid after rotation, in hours'
    }))
  }, { additionalProperties: false })
}

export const RotateResponse = Type.Object({
  success: Type.Boolean(),
  message: Type.String(),
  anonKey: Type.String({ description: 'The new anon key' }),
  oldKeyExpiresAt: Type.String({ format: 'date-time', description: 'When the previous key stops being accepted' })
})

export const PreviousKeysResponse = Type.Object({
  previousKeys: Type.Array(Type.Object({
    fingerprint: Type.String({ description: 'First 12 hex characters of the SHA-256 of the key' }),
    rotatedAt: Type.String({ format: 'date-time' }),
    expiresAt: Type.String({ format: 'date-time' })
  }, { additionalProperties: true }))
})

export const RevokeResponse = Type.Object({
  success: Type.Boolean(),
  revoked: Type.Integer({ description: 'How many previous keys were revoked' })
})

export const FingerprintParams = Type.Object({
  fingerprint: Type.String({ pattern: '^[0-9a-f]{12}$', description: 'The fingerprint listed by GET /previous' })
})

export const routeSchemas = {
  getAnonKey: {
    tags: ['Admin'],
    summary: 'Get anon key',
    description: "Admin-only endpoint to retrieve the project's opaque anon key (`anon_...`).",
    security: [{ bearerAuth: [] }],
    response: { 200: GetAnonKeyResponse, ...errorResponses('ANON_KEY_NOT_INITIALIZED') }
  },
  rotate: {
    tags: ['Admin'],
    summary: 'Rotate anon key',
    description: 'Rotate the anon key. The old key stays valid for the grace period (hours).',
    security: [{ bearerAuth: [] }],
    response: { 200: RotateResponse, ...errorResponses('INVALID_INPUT', 'ANON_KEY_NOT_INITIALIZED', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE') }
  },
  listPrevious: {
    tags: ['Admin'],
    summary: 'List previous anon keys',
    description: 'Previous keys that still verify, by fingerprint, with their expiry.',
    security: [{ bearerAuth: [] }],
    response: { 200: PreviousKeysResponse, ...errorResponses() }
  },
  revokeAll: {
    tags: ['Admin'],
    summary: 'Revoke every previous anon key',
    description: 'Incident response: every previous key stops verifying now.',
    security: [{ bearerAuth: [] }],
    response: { 200: RevokeResponse, ...errorResponses() }
  },
  revokeOne: {
    tags: ['Admin'],
    summary: 'Revoke one previous anon key',
    description: 'The previous key with this fingerprint stops verifying now.',
    security: [{ bearerAuth: [] }],
    params: FingerprintParams,
    response: { 200: RevokeResponse, ...errorResponses('INVALID_INPUT', 'NOT_FOUND') }
  }
}
