import type { FastifyJWTOptions } from '@fastify/jwt'
import type { FastifyRequest } from 'fastify'
import { closestName } from './closest-name.js'
import { jwtOptionProblem } from './jwt-options.js'
import { jwtVerifyProblem, jwtWithAuthorizeProblem } from './jwt-verify-options.js'
import { tenantResolverProblem } from './tenant-resolver.js'
import { isAnonKey } from '../domain/key.js'
import { checkAttestationOption, resolveAttestation, type AttestationOptions, type ResolvedAttestation } from '../attestation/attestation-options.js'
import { OptionError } from '../errors/option-errors.js'
import { memoryStore } from '../stores/memory/memory-store.js'
import type { AnonKeyStore } from '../stores/interface.js'
import type { MetricsOptions } from '../metrics/metrics.js'

/** What `authorize` may resolve to: false refuses (403), true or an object with an actor allows. */
export type AuthorizeResult = boolean | { actor?: string | null }

/**
 * @fastify/jwt's options, whose `secret` may be given as undefined so that `process.env.JWT_SECRET` type-checks
 * as it is: ready() then says that the variable is unset.
 */
export type AdminJwtOptions = Omit<FastifyJWTOptions, 'secret'> & { secret: FastifyJWTOptions['secret'] | undefined }

export interface FastifyAnonKeyOptions {
  /** Where keys live. Default: memoryStore() (one process, nothing persisted). */
  store?: AnonKeyStore
  /** Options for @fastify/jwt, which verifies admin tokens. `secret` is required unless `authorize` is given. */
  jwt?: AdminJwtOptions
  /**
   * Decides whether a verified token belongs to an admin of the request's project (in tenant mode, of the tenant
   * the request names); may be async. Default: payload.role === 'project_admin'; required with `tenant` unless
   * `authorize` is given.
   */
  isAdmin?: (payload: any, request: FastifyRequest) => boolean | Promise<boolean>
  /** Replaces the JWT check entirely, for hosts with their own admin auth. */
  authorize?: (request: FastifyRequest) => AuthorizeResult | Promise<AuthorizeResult>
  /** Prefix of the admin routes. Default: '/api'. */
  prefix?: string
  /** Grace period of a rotation that names none, in hours. Default: 168. */
  defaultGracePeriodHours?: number
  /** Largest grace period a rotation may ask for, in hours. Default: 720. */
  maxGracePeriodHours?: number
  /** Create a key on start-up when the store holds none. Default: true. */
  autoInitialize?: boolean
  /** The key to store on start-up when the store holds none, instead of a random one. */
  initialKey?: string
  /**
   * The fallback reload of the in-process cache, in ms: after a period this long in which the store's poll for
   * missed changes did not succeed (or with a store that does not poll), each cached project is reloaded on its
   * next use. Default: 30000.
   */
  cacheTtlMs?: number
  /** How long an admin operation waits for the store before answering 503, in ms. Default: 5000. */
  storeTimeoutMs?: number
  /** Also read the anon key from this header ('apikey' when true); when present, it is the key judged. Default: false. */
  apiKeyHeader?: boolean | string
  /** Send `Anon-Key-Expires-At` on requests verified with a previous key. Default: true. */
  expiryHeader?: boolean
  /** Largest rotate body accepted, in bytes. Default: 1024. */
  bodyLimit?: number
  /** How often this instance hands its usage counts to the store, in ms. Default: 10000. */
  usageFlushMs?: number
  /** A previous key is safe to revoke once no instance verified it for this many hours (and it has been a previous key that long). Default: 24. */
  safeToRevokeAfterHours?: number
  /** At most this many previous keys of one key verify at once; a rotation revokes the oldest beyond it. Default: 100. */
  maxPreviousKeys?: number
  /** At most this many named keys per project (`default` included). Default: 20. */
  maxKeys?: number
  /**
   * OpenTelemetry metrics, recorded when `@opentelemetry/api` is installed and a MeterProvider is registered
   * (or given here) by the time the plugin registers. `tenantAttribute: true` adds `tenant` to verifications.
   */
  metrics?: MetricsOptions
  /**
   * Tenant mode: the project a request belongs to, from something cheap and synchronous (a header, the host
   * name): 1 to 64 characters from [A-Za-z0-9._-], or null/undefined when it names none.
   */
  tenant?: (request: FastifyRequest) => string | null | undefined
  /** Tenant mode: how many tenants' keys are kept in process, least recently used evicted. Default: 10000. */
  maxCachedTenants?: number
  /**
   * Tenant mode: how many tenants may be loaded from the store at once, uncached and stale cached ones together. A
   * request for an uncached tenant beyond it gets 503 STORE_UNAVAILABLE with Retry-After: 1; a stale cached one
   * verifies with the keys held. Default: 100.
   */
  maxTenantLoads?: number
  /**
   * Attestation tokens for named keys with requireAttestation: Firebase App Check's ({ issuer, audience }), or
   * any provider's through verify(token, request).
   */
  attestation?: AttestationOptions
}

/**
 * Every option the plugin knows: an option added to FastifyAnonKeyOptions must be added here (the compiler says
 * so), or ready() refuses it as unknown.
 */
const KNOWN_OPTIONS: Record<keyof FastifyAnonKeyOptions, true> = {
  store: true,
  jwt: true,
  isAdmin: true,
  authorize: true,
  prefix: true,
  defaultGracePeriodHours: true,
  maxGracePeriodHours: true,
  autoInitialize: true,
  initialKey: true,
  cacheTtlMs: true,
  storeTimeoutMs: true,
  apiKeyHeader: true,
  expiryHeader: true,
  bodyLimit: true,
  usageFlushMs: true,
  safeToRevokeAfterHours: true,
  maxPreviousKeys: true,
  maxKeys: true,
  metrics: true,
  tenant: true,
  maxCachedTenants: true,
  maxTenantLoads: true,
  attestation: true
}

/** Fastify's own register options, which reach the plugin beside its own. */
const FASTIFY_REGISTER_OPTIONS = ['prefix', 'logLevel', 'logSerializers']

export interface ResolvedOptions {
  store: AnonKeyStore
  jwt: FastifyJWTOptions | null
  isAdmin: (payload: any, request: FastifyRequest) => boolean | Promise<boolean>
  authorize: ((request: FastifyRequest) => AuthorizeResult | Promise<AuthorizeResult>) | null
  prefix: string
  defaultGracePeriodHours: number
  maxGracePeriodHours: number
  autoInitialize: boolean
  initialKey: string | null
  cacheTtlMs: number
  storeTimeoutMs: number
  apiKeyHeader: string | null
  expiryHeader: boolean
  bodyLimit: number
  usageFlushMs: number
  safeToRevokeAfterHours: number
  maxPreviousKeys: number
  maxKeys: number
  metrics: MetricsOptions
  tenant: ((request: FastifyRequest) => string | null | undefined) | null
  maxCachedTenants: number
  maxTenantLoads: number
  attestation: ResolvedAttestation | null
}

const STORE_METHODS = ['load', 'update', 'loadRetired', 'subscribe', 'close'] as const

function fail (option: string, problem: string, fix: string): never {
  throw new OptionError.INVALID_OPTION(`fastify-anon-key: option "${option}" ${problem}. ${fix}`)
}

/** Options of @fastify/jwt and of the store factories that people give to the plugin itself, and where they go. */
const STORE_OPTION = 'It is an option of the store: pass it to the store factory, as in'
const MISPLACED_OPTIONS: Record<string, string> = {
  secret: 'It belongs inside jwt: { jwt: { secret: process.env.JWT_SECRET } }.',
  namespace: `${STORE_OPTION} { store: postgresStore({ pool, namespace }) } (redisStore and sqliteStore take it too).`,
  catchUpMs: `${STORE_OPTION} { store: postgresStore({ pool, catchUpMs }) } (redisStore and sqliteStore take it too).`,
  pool: `${STORE_OPTION} { store: postgresStore({ pool }) }.`,
  listenPool: `${STORE_OPTION} { store: postgresStore({ pool, listenPool }) }.`,
  tableName: `${STORE_OPTION} { store: postgresStore({ pool, tableName }) } (sqliteStore takes it too).`,
  client: `${STORE_OPTION} { store: redisStore({ client }) }.`,
  keyPrefix: `${STORE_OPTION} { store: redisStore({ client, keyPrefix }) }.`,
  database: `${STORE_OPTION} { store: sqliteStore({ database }) }.`
}

/** Refuses an option the plugin does not know, naming the known one closest to it, or where it belongs. */
function checkKnown (options: object): void {
  const known = Object.keys(KNOWN_OPTIONS)
  for (const name of Object.keys(options)) {
    if (Object.hasOwn(KNOWN_OPTIONS, name) || FASTIFY_REGISTER_OPTIONS.includes(name)) continue
    const hint = Object.hasOwn(MISPLACED_OPTIONS, name) ? MISPLACED_OPTIONS[name] : `Did you mean "${closestName(name, known)}"?`
    throw new OptionError.UNKNOWN_OPTION(`fastify-anon-key: unknown option "${name}". ${hint} Known options: ${known.join(', ')}.`)
  }
}

function checkWholeNumber (option: string, value: unknown, min: number, max: number): void {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    fail(option, `must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`, `Set "${option}" to a number in that range, or leave it out for the default.`)
  }
}

/** Checks every option the user gave, throwing a message that names the option and the fix. Pure. */
export function checkOptions (options: FastifyAnonKeyOptions): void {
  checkKnown(options)
  if (options.store !== undefined) {
    for (const method of STORE_METHODS) {
      if (typeof (options.store as any)?.[method] !== 'function') {
        fail('store', `has no ${method}() method`, 'Pass a store such as memoryStore(), postgresStore({ pool }) or redisStore({ client }), or an object that implements AnonKeyStore.')
      }
    }
  }
  if (options.authorize !== undefined && typeof options.authorize !== 'function') {
    fail('authorize', 'must be a function (request) => boolean', 'Pass a function, or leave it out to verify admin JWTs.')
  }
  if (options.isAdmin !== undefined && typeof options.isAdmin !== 'function') {
    fail('isAdmin', 'must be a function (payload, request) => boolean', 'Pass a function, or leave it out for payload.role === "project_admin".')
  }
  if (options.jwt !== undefined && (typeof options.jwt !== 'object' || options.jwt === null)) {
    fail('jwt', `must be an object of @fastify/jwt options, and it is ${options.jwt === null ? 'null' : 'a ' + typeof options.jwt}`, 'Pass { jwt: { secret: process.env.JWT_SECRET } }.')
  }
  if (options.authorize === undefined) {
    const secret = options.jwt?.secret
    if (secret === undefined || secret === null || secret === '') {
      const given = secret === undefined ? (options.jwt === undefined ? 'no jwt option was given' : 'it is undefined') : `it is ${JSON.stringify(secret)}`
      fail('jwt.secret', `is required to verify admin tokens, and ${given}`, 'If you pass process.env.JWT_SECRET, the JWT_SECRET environment variable is unset or empty in this process: set it (for example JWT_SECRET=$(openssl rand -hex 32)). Or pass authorize(request) to use your own admin auth.')
    }
    const problem = jwtOptionProblem(options.jwt as unknown as Record<string, unknown>) ?? jwtVerifyProblem(options.jwt as unknown as Record<string, unknown>)
    if (problem !== null) fail(...problem)
  } else {
    const problem = jwtWithAuthorizeProblem(options.jwt as unknown as Record<string, unknown> | undefined)
    if (problem !== null) fail(...problem)
  }
  if (options.prefix !== undefined && (typeof options.prefix !== 'string' || (options.prefix !== '' && !options.prefix.startsWith('/')))) {
    fail('prefix', `must be '' or a path starting with "/", got ${JSON.stringify(options.prefix)}`, "Use for example '/api'.")
  }
  const max = options.maxGracePeriodHours ?? 720
  if (options.maxGracePeriodHours !== undefined) checkWholeNumber('maxGracePeriodHours', max, 0, 87600)
  if (options.defaultGracePeriodHours !== undefined) checkWholeNumber('defaultGracePeriodHours', options.defaultGracePeriodHours, 0, max)
  else if (max < 168) fail('maxGracePeriodHours', `is ${max}, below the default grace period of 168`, 'Also set defaultGracePeriodHours to a value within the maximum.')
  if (options.autoInitialize !== undefined && typeof options.autoInitialize !== 'boolean') {
    fail('autoInitialize', 'must be true or false', 'Leave it out to create a key on start-up.')
  }
  if (options.initialKey !== undefined && !isAnonKey(options.initialKey)) {
    fail('initialKey', 'must be "anon_" followed by 64 lowercase hex characters', 'Generate one with: node -e "console.log(\'anon_\' + require(\'crypto\').randomBytes(32).toString(\'hex\'))"')
  }
  if (options.cacheTtlMs !== undefined) checkWholeNumber('cacheTtlMs', options.cacheTtlMs, 1, 2 ** 31 - 1)
  if (options.storeTimeoutMs !== undefined) checkWholeNumber('storeTimeoutMs', options.storeTimeoutMs, 1, 2 ** 31 - 1)
  if (options.usageFlushMs !== undefined) checkWholeNumber('usageFlushMs', options.usageFlushMs, 1, 2 ** 31 - 1)
  // A key's last use is kept 30 days: a longer quiet time could not be told from a key never used.
  if (options.safeToRevokeAfterHours !== undefined) checkWholeNumber('safeToRevokeAfterHours', options.safeToRevokeAfterHours, 1, 720)
  if (options.maxPreviousKeys !== undefined) checkWholeNumber('maxPreviousKeys', options.maxPreviousKeys, 1, 1000)
  if (options.bodyLimit !== undefined) checkWholeNumber('bodyLimit', options.bodyLimit, 64, 1024 * 1024)
  if (options.maxPreviousKeys !== undefined) checkWholeNumber('maxPreviousKeys', options.maxPreviousKeys, 1, 10_000)
  if (options.maxKeys !== undefined) checkWholeNumber('maxKeys', options.maxKeys, 1, 1000)
  checkTenantOptions(options)
  checkMetricsOption(options.metrics)
  checkAttestationOption(options.attestation, options.apiKeyHeader)
  if (options.apiKeyHeader !== undefined && typeof options.apiKeyHeader !== 'boolean' &&
    (typeof options.apiKeyHeader !== 'string' || !/^[a-z0-9-]+$/i.test(options.apiKeyHeader) || options.apiKeyHeader.toLowerCase() === 'authorization')) {
    fail('apiKeyHeader', 'must be true, false, or a header name other than authorization', "Use true for the 'apikey' header.")
  }
  if (options.expiryHeader !== undefined && typeof options.expiryHeader !== 'boolean') {
    fail('expiryHeader', `must be true or false, got ${JSON.stringify(options.expiryHeader)}`, 'Leave it out to tell clients of a previous key when it expires, or set false to turn that off.')
  }
}

function checkMetricsOption (metrics: unknown): void {
  if (metrics === undefined) return
  const example = 'Pass { metrics: { tenantAttribute: true } }, or leave it out.'
  if (metrics === null || typeof metrics !== 'object' || Array.isArray(metrics)) fail('metrics', `must be an object, got ${JSON.stringify(metrics)}`, example)
  for (const name of Object.keys(metrics as object)) {
    if (name !== 'tenantAttribute' && name !== 'meterProvider') fail('metrics', `has no option "${name}" (it takes tenantAttribute and meterProvider)`, example)
  }
  const { tenantAttribute, meterProvider } = metrics as MetricsOptions
  if (tenantAttribute !== undefined && typeof tenantAttribute !== 'boolean') fail('metrics.tenantAttribute', `must be true or false, got ${JSON.stringify(tenantAttribute)}`, example)
  if (meterProvider !== undefined && typeof (meterProvider as { getMeter?: unknown })?.getMeter !== 'function') {
    fail('metrics.meterProvider', 'must be an OpenTelemetry MeterProvider (an object with getMeter())', 'Pass the MeterProvider of @opentelemetry/sdk-metrics, or leave it out to use the one registered globally.')
  }
}

function checkTenantOptions (options: FastifyAnonKeyOptions): void {
  if (options.tenant === undefined) {
    for (const option of ['maxCachedTenants', 'maxTenantLoads'] as const) {
      if (options[option] !== undefined) fail(option, 'only applies in tenant mode', 'Pass tenant(request) as well, or leave it out.')
    }
    return
  }
  if (typeof options.tenant !== 'function') {
    fail('tenant', 'must be a function (request) => tenant id', 'Pass for example (request) => request.headers[\'x-project-id\'], or leave it out for one project.')
  }
  const resolverProblem = tenantResolverProblem(options.tenant)
  if (resolverProblem !== null) fail(...resolverProblem)
  if (options.isAdmin === undefined && options.authorize === undefined) {
    fail('tenant', 'needs isAdmin(payload, request) or authorize(request)', 'The default isAdmin would let one project\'s admin rotate another project\'s key: pass isAdmin(payload, request) that checks the token names the request\'s tenant (or authorize(request)).')
  }
  if (options.initialKey !== undefined) {
    fail('initialKey', 'cannot be used with tenant', 'Each tenant gets its own random key; leave initialKey out.')
  }
  if (options.maxCachedTenants !== undefined) checkWholeNumber('maxCachedTenants', options.maxCachedTenants, 1, 10_000_000)
  if (options.maxTenantLoads !== undefined) checkWholeNumber('maxTenantLoads', options.maxTenantLoads, 1, 100_000)
}

/** Fills in the defaults. Pure; call after checkOptions. */
export function ensureDefaults (options: FastifyAnonKeyOptions): ResolvedOptions {
  const apiKeyHeader = options.apiKeyHeader === true ? 'apikey' : (options.apiKeyHeader || null)
  return {
    store: options.store ?? memoryStore(),
    // checkOptions made sure jwt.secret is there when authorize is not.
    jwt: options.authorize === undefined ? options.jwt as FastifyJWTOptions : null,
    isAdmin: options.isAdmin ?? ((payload: any) => payload?.role === 'project_admin'),
    authorize: options.authorize ?? null,
    prefix: options.prefix ?? '/api',
    defaultGracePeriodHours: options.defaultGracePeriodHours ?? 168,
    maxGracePeriodHours: options.maxGracePeriodHours ?? 720,
    autoInitialize: options.autoInitialize ?? true,
    initialKey: options.initialKey ?? null,
    cacheTtlMs: options.cacheTtlMs ?? 30_000,
    storeTimeoutMs: options.storeTimeoutMs ?? 5000,
    apiKeyHeader: apiKeyHeader === null ? null : apiKeyHeader.toLowerCase(),
    expiryHeader: options.expiryHeader ?? true,
    bodyLimit: options.bodyLimit ?? 1024,
    usageFlushMs: options.usageFlushMs ?? 10_000,
    safeToRevokeAfterHours: options.safeToRevokeAfterHours ?? 24,
    maxPreviousKeys: options.maxPreviousKeys ?? 100,
    maxKeys: options.maxKeys ?? 20,
    metrics: options.metrics ?? {},
    tenant: options.tenant ?? null,
    maxCachedTenants: options.maxCachedTenants ?? 10_000,
    maxTenantLoads: options.maxTenantLoads ?? 100,
    attestation: resolveAttestation(options.attestation)
  }
}
