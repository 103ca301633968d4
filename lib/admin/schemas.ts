import { Type, type TSchema } from '@sinclair/typebox'
import { ERROR_CODES, ROTATE_BODY_ADVICE, type ErrorCode, type HostErrorCode } from '../errors/codes.js'
import { FINGERPRINT_LENGTH } from '../domain/key.js'

const EXAMPLE_KEY = 'anon_1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcd'

export const ErrorResponse = Type.Object({
  error: Type.String({ description: 'Error code for programmatic handling', examples: ['INVALID_INPUT'] }),
  message: Type.String({ description: 'Human-readable error message', examples: ['gracePeriodHours must be an integer from 0 to 720'] }),
  statusCode: Type.Integer({ description: 'HTTP status code, equal to the response status', examples: [400] }),
  nextActions: Type.Optional(Type.String({ description: 'Suggested action to resolve the error', examples: [ROTATE_BODY_ADVICE] }))
}, { $id: 'AnonKeyErrorResponse', title: 'ErrorResponse' })

/** verifyAnonKey's refusals of a client: never an admin route's answer. */
type ClientErrorCode = 'ANON_KEY_ORIGIN_NOT_ALLOWED' | 'ANON_KEY_APP_NOT_ALLOWED' | 'ANON_KEY_ATTESTATION_REQUIRED' | 'ANON_KEY_ATTESTATION_INVALID'
type AdminErrorCode = Exclude<ErrorCode, 'ANON_KEY_EXPIRED' | 'ANON_KEY_REVOKED' | ClientErrorCode | HostErrorCode>

/** The error responses every admin route can give, plus the ones named, each described by its codes. */
export function errorResponses (...codes: AdminErrorCode[]): Record<number, TSchema> {
  const byStatus = new Map<number, string[]>()
  for (const code of ['AUTH_INVALID_CREDENTIALS', 'FORBIDDEN', 'INTERNAL_ERROR', 'STORE_UNAVAILABLE', ...codes] as const) {
    const status = ERROR_CODES[code].statusCode
    byStatus.set(status, [...(byStatus.get(status) ?? []), `${code}: ${ERROR_CODES[code].meaning}`])
  }
  return Object.fromEntries([...byStatus].map(([status, descriptions]) =>
    [status, Type.Ref(ErrorResponse.$id as string, { description: descriptions.join('; ') })]))
}

export const GetAnonKeyResponse = Type.Object({
  anonKey: Type.String({ description: 'The current anon key', examples: [EXAMPLE_KEY] })
}, { description: 'The current anon key', examples: [{ anonKey: EXAMPLE_KEY }] })

export const GraceStartsAt = Type.Union([Type.Literal('rotation'), Type.Literal('first-use')], {
  description: 'When the old key\'s grace began: at the rotation, or at the first use of the key that replaced it'
})

export function rotateBodySchema (maxGracePeriodHours: number, defaultGracePeriodHours: number): TSchema {
  return Type.Object({
    gracePeriodHours: Type.Optional(Type.Integer({
      minimum: 0,
      maximum: maxGracePeriodHours,
      default: defaultGracePeriodHours,
      description: 'How long the old key remains valid after rotation, in hours'
    })),
    graceStartsAt: Type.Optional(Type.Union([Type.Literal('rotation'), Type.Literal('first-use')], {
      default: 'rotation',
      description: `"first-use": the grace starts when any instance first verifies the new key, and ends at the latest ${maxGracePeriodHours} hours after the rotation (oldKeyExpiresAt)`
    }))
  }, {
    additionalProperties: false,
    description: 'Optional: no body, an empty body or {} rotates with the default grace period.',
    examples: [{ gracePeriodHours: 24 }]
  })
}

export const RotateResponse = Type.Object({
  success: Type.Boolean(),
  message: Type.String(),
  anonKey: Type.String({ description: 'The new anon key' }),
  oldKeyExpiresAt: Type.String({ format: 'date-time', description: 'When the previous key stops being accepted' })
}, {
  description: 'Anon key rotated',
  examples: [{
    success: true,
    message: 'Anon key rotated successfully. Old key will remain valid during grace period.',
    anonKey: EXAMPLE_KEY,
    oldKeyExpiresAt: '2026-06-18T00:00:00.000Z'
  }]
})

export const PreviousKeysResponse = Type.Object({
  previousKeys: Type.Array(Type.Object({
    fingerprint: Type.String({ description: `First ${FINGERPRINT_LENGTH} hex characters of the SHA-256 of the key` }),
    rotatedAt: Type.String({ format: 'date-time' }),
    expiresAt: Type.String({ format: 'date-time' }),
    requests: Type.Integer({ description: 'Requests that carried this key since its rotation, over all instances' }),
    lastSeenAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'The last such request, or null' }),
    lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'The last request any instance verified with this key, or null' }),
    safeToRevoke: Type.Boolean({ description: 'True once no instance verified it for safeToRevokeAfterHours and it has been a previous key that long' }),
    graceStartsAt: GraceStartsAt
  }))
})

export const RevokeResponse = Type.Object({
  success: Type.Boolean(),
  revoked: Type.Integer({ description: 'How many previous keys were revoked' })
})

export const FingerprintParams = Type.Object({
  fingerprint: Type.String({ pattern: `^[0-9a-f]{${FINGERPRINT_LENGTH}}$`, description: 'The fingerprint listed by GET /previous' })
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
