import { Type } from '@sinclair/typebox'
import { FINGERPRINT_LENGTH } from '../domain/key.js'
import { REFUSED_USAGE_CODES } from '../domain/usage-history.js'
import { NameParams } from './named-key-schemas.js'
import { errorResponses, GraceStartsAt } from './schemas.js'

const Instant = Type.String({ format: 'date-time' })
const Hour = Type.String({ format: 'date-time', description: 'The hour, ISO 8601 UTC, on the hour' })
const Fingerprint = Type.String({ description: `First ${FINGERPRINT_LENGTH} hex characters of the SHA-256 of the key` })

const KeyUsage = Type.Object({
  fingerprint: Fingerprint,
  role: Type.Union([Type.Literal('current'), Type.Literal('previous')]),
  rotatedAt: Type.Union([Instant, Type.Null()], { description: 'When it stopped being current; null for the current key' }),
  expiresAt: Type.Union([Instant, Type.Null()], { description: 'When it stops verifying; null for the current key' }),
  lastUsedAt: Type.Union([Instant, Type.Null()], { description: 'The last request any instance verified with this key, or null' }),
  requests24h: Type.Integer({ description: 'Verified requests in this hour and the 23 before it, over all instances' }),
  hourly: Type.Array(Type.Object({ hour: Hour, requests: Type.Integer() }), {
    description: 'Verified requests per hour over the last 7 days, oldest first; hours without any are left out'
  }),
  safeToRevoke: Type.Optional(Type.Boolean({ description: 'Previous keys only: no instance verified it for safeToRevokeAfterHours, and it has been a previous key that long' })),
  graceStartsAt: Type.Optional(GraceStartsAt)
})

export const KeyUsageResponse = Type.Object({
  name: Type.String(),
  keys: Type.Array(KeyUsage, { description: 'The current key, then the previous keys that still verify, newest rotation first' }),
  refused: Type.Array(Type.Object({
    hour: Hour,
    code: Type.Union(REFUSED_USAGE_CODES.map((code) => Type.Literal(code))),
    fingerprint: Fingerprint,
    requests: Type.Integer()
  }), { description: 'Per hour, requests refused although they carried a key of this name (expired, revoked, or from an origin or app not allowed): clients still shipping it' })
}, {
  description: 'Usage of the keys of one name over the last 7 days, summed over every instance',
  examples: [{
    name: 'default',
    keys: [
      { fingerprint: '3f9a1c0b7d2e', role: 'current', rotatedAt: null, expiresAt: null, lastUsedAt: '2026-06-11T09:41:12.000Z', requests24h: 1520, hourly: [{ hour: '2026-06-11T09:00:00.000Z', requests: 87 }] },
      { fingerprint: '8c41d2e09a7f', role: 'previous', rotatedAt: '2026-06-10T08:00:00.000Z', expiresAt: '2026-06-17T08:00:00.000Z', lastUsedAt: '2026-06-10T21:13:40.000Z', requests24h: 12, hourly: [{ hour: '2026-06-10T21:00:00.000Z', requests: 12 }], safeToRevoke: false, graceStartsAt: 'rotation' }
    ],
    refused: [{ hour: '2026-06-11T08:00:00.000Z', code: 'ANON_KEY_EXPIRED', fingerprint: '51be0c9d3a11', requests: 4 }]
  }]
})

const admin = { tags: ['Admin'], security: [{ bearerAuth: [] }] }
const description = 'Per hour over the last 7 days, summed over every instance: the requests each key verified, and the requests refused although they carried a known key (expired, revoked, from an origin or app not allowed). Each previous key says whether it is safe to revoke.'

export const usageRouteSchemas = {
  defaultKey: {
    ...admin,
    summary: 'Usage of the anon key over time',
    description,
    response: { 200: KeyUsageResponse, ...errorResponses('ANON_KEY_NOT_INITIALIZED', 'NOT_IMPLEMENTED') }
  },
  namedKey: {
    ...admin,
    summary: 'Usage of a named anon key over time',
    description,
    params: NameParams,
    response: { 200: KeyUsageResponse, ...errorResponses('INVALID_INPUT', 'NOT_FOUND', 'NOT_IMPLEMENTED') }
  }
}
