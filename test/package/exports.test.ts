import t from 'tap'
import * as entry from '../../lib/index.js'
import anonKey, { AnonKeyRejection, ERROR_CODES, fastifyAnonKey } from '../../lib/index.js'
import { ANON_KEY_PATTERN, digestOf, fingerprintOf, generateAnonKey, isAnonKey } from '../../lib/stores/index.js'
import * as adapterEntry from '../../lib/stores/index.js'

t.test('the default export is the plugin, named for fastify-plugin', async (t) => {
  t.equal(anonKey, fastifyAnonKey)
  t.equal((anonKey as any)[Symbol.for('plugin-meta')].name, 'fastify-anon-key')
  t.equal((anonKey as any)[Symbol.for('plugin-meta')].fastify, '5.x')
})

t.test('the key helpers make, recognise, digest and name anon keys', async (t) => {
  const key = generateAnonKey()
  t.match(key, ANON_KEY_PATTERN)
  t.ok(isAnonKey(key))
  t.notOk(isAnonKey(key.toUpperCase()))
  t.notOk(isAnonKey(42))
  t.match(digestOf(key), /^[0-9a-f]{64}$/)
  t.equal(fingerprintOf(key), digestOf(key).slice(0, 12))
  t.equal(digestOf('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'the digest is SHA-256 in hex')
})

t.test('ERROR_CODES lists every code of the contract with its status and next actions', async (t) => {
  t.same(Object.fromEntries(Object.entries(ERROR_CODES).map(([code, { statusCode }]) => [code, statusCode])), {
    INVALID_INPUT: 400,
    AUTH_INVALID_CREDENTIALS: 401,
    ANON_KEY_EXPIRED: 401,
    ANON_KEY_REVOKED: 401,
    FORBIDDEN: 403,
    ANON_KEY_ORIGIN_NOT_ALLOWED: 403,
    ANON_KEY_APP_NOT_ALLOWED: 403,
    ANON_KEY_ATTESTATION_REQUIRED: 401,
    ANON_KEY_ATTESTATION_INVALID: 401,
    ANON_KEY_NOT_INITIALIZED: 404,
    NOT_FOUND: 404,
    CONFLICT: 409,
    PAYLOAD_TOO_LARGE: 413,
    UNSUPPORTED_MEDIA_TYPE: 415,
    INTERNAL_ERROR: 500,
    STORE_UNAVAILABLE: 503,
    // For errors a host raises on the admin routes (HOST_ERROR_CODES); RATE_LIMITED is anonKeyRateLimit's too.
    METHOD_NOT_ALLOWED: 405,
    REQUEST_TIMEOUT: 408,
    GONE: 410,
    RATE_LIMITED: 429,
    CLIENT_ERROR: 400,
    NOT_IMPLEMENTED: 501,
    BAD_GATEWAY: 502,
    SERVICE_UNAVAILABLE: 503,
    GATEWAY_TIMEOUT: 504,
    SERVER_ERROR: 500
  })
  for (const { nextActions } of Object.values(ERROR_CODES)) t.type(nextActions, 'string')
})

t.test('AnonKeyRejection renders in the contract format', async (t) => {
  const rejection = new AnonKeyRejection('ANON_KEY_REVOKED')
  t.same(JSON.parse(JSON.stringify(rejection)), {
    error: 'ANON_KEY_REVOKED',
    message: 'This anon key was revoked.',
    statusCode: 401,
    nextActions: ERROR_CODES.ANON_KEY_REVOKED.nextActions
  })
  t.equal(rejection.code, 'ANON_KEY_REVOKED')
})

t.test('the main entry exports what a host needs, and no internals', async (t) => {
  t.same(Object.keys(entry).sort(), [
    'AnonKeyRejection', 'ERROR_CODES', 'anonKeyRateLimit', 'default', 'fastifyAnonKey', 'memoryStore', 'postgresStore', 'redisStore', 'sqliteStore', 'verifyAnonKey'
  ])
  for (const [name, value] of Object.entries(entry)) t.not(value, undefined, `${name} is exported`)
})

t.test('the store entry exports what an adapter author needs, and no change rules', async (t) => {
  t.same(Object.keys(adapterEntry).sort(), [
    'ANON_KEY_PATTERN', 'DEFAULT_KEY_NAME', 'KEY_NAME_PATTERN', 'RETIRED_RECORD_LIMIT', 'RETIRED_RETENTION_MS', 'SINGLE_PROJECT', 'TENANT_ID_PATTERN',
    'digestOf', 'emptyHistory', 'emptyProject', 'fingerprintOf', 'fromLegacy', 'generateAnonKey', 'isAnonKey', 'isKeyName', 'isProject', 'isTenantId', 'keepRetired',
    'mergeUsage', 'retiredAt', 'trimUsage'
  ])
  for (const [name, value] of Object.entries(adapterEntry)) t.not(value, undefined, `${name} is exported from the store entry`)
  t.equal(adapterEntry.RETIRED_RECORD_LIMIT, 1000)
  t.equal(adapterEntry.SINGLE_PROJECT, '')
  t.same(adapterEntry.emptyProject(), { keys: [] })
})
