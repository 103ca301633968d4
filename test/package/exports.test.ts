import t from 'tap'
import * as entry from '../../lib/index.js'
import anonKey, {
  ANON_KEY_PATTERN,
  AnonKeyRejection,
  digestOf,
  ERROR_CODES,
  fastifyAnonKey,
  fingerprintOf,
  generateAnonKey,
  isAnonKey
} from '../../lib/index.js'
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

t.test('the state transitions and retention rules are exported for store authors, off the main entry', async (t) => {
  const { emptyProject, initializeProject, isRefusal, pruneProject, RETIRED_RECORD_LIMIT, RETIRED_RETENTION_MS, revokePrevious, rotateKey, SINGLE_PROJECT } = adapterEntry
  const key = generateAnonKey()
  const initialized = initializeProject(emptyProject(), { key, now: 500 })
  t.ok('next' in initialized, 'initializing an empty project writes')
  const state = (initialized as { next: adapterEntry.ProjectState }).next
  const rotated = rotateKey(state, { name: 'default', newKey: generateAnonKey(), now: 1000, expiresAt: 2000 })
  t.notOk(isRefusal(rotated.result))
  const after = (rotated as { next: adapterEntry.ProjectState }).next
  t.same(after.keys[0].previousKeys, [{ digest: digestOf(key), rotatedAt: 1000, expiresAt: 2000, revokedAt: null }])
  t.same(rotateKey(emptyProject(), { name: 'default', newKey: key, now: 1, expiresAt: 1 }).result, { refused: 'NOT_FOUND', message: 'No anon key is named "default".' })
  const revoked = revokePrevious(after, { name: 'default', now: 1500 })
  const afterRevoke = (revoked as { next: adapterEntry.ProjectState }).next
  t.same(afterRevoke.keys[0].previousKeys, [], 'a revoked key leaves the document')
  t.equal(pruneProject(after, 2000).retired.length, 1, 'a key whose grace ended leaves the document for the retired keys')
  t.same(pruneProject(after, 2000 + RETIRED_RETENTION_MS).retired, [], 'a key expired 30 days ago is forgotten')
  t.equal(RETIRED_RECORD_LIMIT, 1000)
  t.equal(SINGLE_PROJECT, '')
  for (const name of ['rotateState', 'revokeState', 'pruneRetired', 'RETIRED_RETENTION_MS']) t.notOk(name in entry, `${name} is not on the main entry`)
  for (const [name, value] of Object.entries(adapterEntry)) t.not(value, undefined, `${name} is exported from the store entry`)
})

t.test('every runtime export is defined, and the internals of app.anonKey are not among them', async (t) => {
  for (const name of ['AnonKeyApi', 'AnonKeyService', 'KeyCache', 'TenantCache']) t.notOk(name in entry, `${name} is not a runtime export`)
  for (const [name, value] of Object.entries(entry)) t.not(value, undefined, `${name} is exported`)
  t.type(entry.postgresStore, 'function')
  t.type(entry.redisStore, 'function')
  t.type(entry.sqliteStore, 'function')
  t.type(entry.memoryStore, 'function')
})
