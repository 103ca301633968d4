import { Type, type Static } from '@sinclair/typebox'
import { FINGERPRINT_LENGTH } from '../domain/key.js'
import { MAX_ALLOWED_ORIGINS } from '../domain/origins.js'
import { MAX_DESCRIPTION_LENGTH } from '../domain/names.js'
import { AllowedApps, AllowedAppsInfo, RateLimitSchema, RequireAttestation } from './key-settings-schemas.js'
import { errorResponses, FingerprintParams, PreviousKeysResponse, RevokeResponse, RotateResponse } from './schemas.js'

/** Schemas of the named-key routes (CONTRACT.md section 9). Bodies are as strict as the rotate body. */

const EXAMPLE_KEY = 'anon_1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcd'

/** The most characters a key's description holds. */

export const KeyName = Type.String({
  pattern: '^[a-z][a-z0-9_-]{0,31}$',
  description: 'A lowercase name: a letter, then up to 31 letters, digits, "_" or "-" (web, ios, android)',
  examples: ['web']
})

const Description = Type.String({ maxLength: MAX_DESCRIPTION_LENGTH, description: `Free text, at most ${MAX_DESCRIPTION_LENGTH} characters` })

const AllowedOrigins = Type.Union([
  Type.Array(Type.String({ maxLength: 300 }), { minItems: 1, maxItems: MAX_ALLOWED_ORIGINS }),
  Type.Null()
], {
  description: 'Origins allowed to use the key in a browser (https://app.example.com, https://*.example.com), or null for any. ' +
    'It keeps other web sites from using the key in browsers; it cannot stop a client that is not a browser.'
})

export const NameParams = Type.Object({ name: KeyName })

export const NameFingerprintParams = Type.Object({ name: KeyName, fingerprint: FingerprintParams.properties.fingerprint })

export const CreateKeyBody = Type.Object({
  name: KeyName,
  description: Type.Optional(Description),
  allowedOrigins: Type.Optional(AllowedOrigins),
  allowedApps: Type.Optional(AllowedApps),
  requireAttestation: Type.Optional(RequireAttestation),
  rateLimit: Type.Optional(RateLimitSchema)
}, { additionalProperties: false, examples: [{ name: 'web', description: 'Web app', allowedOrigins: ['https://app.example.com'] }] })
export type CreateKeyInput = Static<typeof CreateKeyBody>

export const UpdateKeyBody = Type.Object({
  description: Type.Optional(Description),
  allowedOrigins: Type.Optional(AllowedOrigins),
  allowedApps: Type.Optional(AllowedApps),
  requireAttestation: Type.Optional(RequireAttestation),
  rateLimit: Type.Optional(RateLimitSchema)
}, { additionalProperties: false, minProperties: 1, examples: [{ allowedOrigins: null }, { rateLimit: { max: 100, timeWindowMs: 60000 } }] })
export type UpdateKeyInput = Static<typeof UpdateKeyBody>

/** The properties each body accepts, for the message that names an unknown one. */
export const BODY_PROPERTIES = {
  create: Object.keys(CreateKeyBody.properties),
  update: Object.keys(UpdateKeyBody.properties)
}

export const AnonKeyInfo = Type.Object({
  name: Type.String(),
  anonKey: Type.String({ description: 'The current key of this name', examples: [EXAMPLE_KEY] }),
  fingerprint: Type.String({ description: `First ${FINGERPRINT_LENGTH} hex characters of the SHA-256 of the current key` }),
  description: Type.String(),
  allowedOrigins: Type.Union([Type.Array(Type.String()), Type.Null()], { description: 'Normalised origins, or null for any' }),
  allowedApps: AllowedAppsInfo,
  requireAttestation: Type.Boolean({ description: 'Whether requests with the key need a valid attestation token' }),
  rateLimit: Type.Union([RateLimitSchema.anyOf[0], Type.Null()], { description: 'The key\'s own rate limit, or null for the defaults of anonKeyRateLimit' }),
  createdAt: Type.String({ format: 'date-time' }),
  previousKeys: PreviousKeysResponse.properties.previousKeys
}, { description: 'A named anon key' })

export const AnonKeysResponse = Type.Object({ anonKeys: Type.Array(AnonKeyInfo, { description: 'Sorted by name, default included' }) })

export const DeleteKeyResponse = Type.Object({
  success: Type.Boolean(),
  deleted: Type.String({ description: 'The name deleted: its keys answer ANON_KEY_REVOKED from now on' })
})

const admin = { tags: ['Admin'], security: [{ bearerAuth: [] }] }

export const namedKeyRouteSchemas = {
  list: {
    ...admin,
    summary: 'List named anon keys',
    description: 'Every named key of the project, sorted by name, `default` included.',
    response: { 200: AnonKeysResponse, ...errorResponses() }
  },
  create: {
    ...admin,
    summary: 'Create a named anon key',
    description: 'A new key under a name of its own (one per platform), optionally restricted to origins or apps, requiring attestation, or with its own rate limit.',
    body: CreateKeyBody,
    response: { 201: AnonKeyInfo, ...errorResponses('INVALID_INPUT', 'CONFLICT', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE') }
  },
  get: {
    ...admin,
    summary: 'Get a named anon key',
    description: 'The named key, its current key, its restriction and its previous keys.',
    params: NameParams,
    response: { 200: AnonKeyInfo, ...errorResponses('INVALID_INPUT', 'NOT_FOUND') }
  },
  update: {
    ...admin,
    summary: 'Change a named anon key',
    description: 'Changes the description, the allowed origins or apps (null lifts the restriction), requireAttestation or the rate limit (null for the defaults). The keys stay as they are.',
    params: NameParams,
    body: UpdateKeyBody,
    response: { 200: AnonKeyInfo, ...errorResponses('INVALID_INPUT', 'NOT_FOUND', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE') }
  },
  delete: {
    ...admin,
    summary: 'Delete a named anon key',
    description: 'Its current and previous keys stop verifying at once and answer ANON_KEY_REVOKED. `default` cannot be deleted.',
    params: NameParams,
    response: { 200: DeleteKeyResponse, ...errorResponses('INVALID_INPUT', 'NOT_FOUND', 'CONFLICT') }
  },
  rotate: {
    ...admin,
    summary: 'Rotate a named anon key',
    description: 'Rotates this name only. The old key stays valid for the grace period (hours).',
    params: NameParams,
    response: { 200: RotateResponse, ...errorResponses('INVALID_INPUT', 'NOT_FOUND', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE') }
  },
  listPrevious: {
    ...admin,
    summary: 'List previous keys of a named anon key',
    description: 'Previous keys of this name that still verify, by fingerprint, with their expiry.',
    params: NameParams,
    response: { 200: PreviousKeysResponse, ...errorResponses('INVALID_INPUT', 'NOT_FOUND') }
  },
  revokeAll: {
    ...admin,
    summary: 'Revoke every previous key of a named anon key',
    description: 'Incident response: every previous key of this name stops verifying now.',
    params: NameParams,
    response: { 200: RevokeResponse, ...errorResponses('INVALID_INPUT', 'NOT_FOUND') }
  },
  revokeOne: {
    ...admin,
    summary: 'Revoke one previous key of a named anon key',
    description: 'The previous key of this name with this fingerprint stops verifying now.',
    params: NameFingerprintParams,
    response: { 200: RevokeResponse, ...errorResponses('INVALID_INPUT', 'NOT_FOUND') }
  }
}
