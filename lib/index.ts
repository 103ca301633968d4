import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { createAdminGuard } from './admin/guard.js'
import { AnonKeys, type AnonKeyApi } from './keys/api.js'
import { Mirror } from './keys/mirror.js'
import { createAttestation } from './attestation/attestation.js'
import type { AnonKeyIdentity } from './keys/project-keys.js'
import { OptionError } from './errors/option-errors.js'
import { checkOptions, ensureDefaults, type FastifyAnonKeyOptions } from './options/options.js'
import { declareRequestIdentity } from './verify/request-identity.js'
import { adminRoutes } from './admin/routes.js'
import { ADMIN_PAGE_FACTS, adminPageFacts } from './admin/page-facts.js'
import { warnIfKeyIsLostOnRestart } from './options/start-up-warnings.js'
import { createVerifyHook, HOOK, type VerifyAnonKeyHook } from './verify/hook.js'
import { loadMetrics } from './metrics/metrics.js'
import { warnOfUndefinedGuards } from './verify/unguarded-route-warning.js'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Hook that lets a request through only with a valid anon key, and sets `request.anonKey`.
     * @deprecated Use `import { verifyAnonKey } from 'fastify-anon-key'`: this decorator is undefined before the
     * plugin has registered and in a sibling context, and Fastify serves a route given an undefined hook unchecked.
     * The import is never undefined, and fails closed where the plugin is not registered.
     */
    verifyAnonKey: VerifyAnonKeyHook
    /** Read, rotate, verify and revoke the anon keys from code; named keys; `forTenant(id)`; typed events. */
    anonKey: AnonKeyApi
  }
  interface FastifyRequest {
    /** Set by verifyAnonKey on a request that carried a valid anon key; null otherwise. */
    anonKey: Readonly<AnonKeyIdentity> | null
  }
}

async function anonKeyPlugin (app: FastifyInstance, options: FastifyAnonKeyOptions): Promise<void> {
  if (app.hasDecorator('anonKey')) {
    throw new OptionError.ALREADY_REGISTERED('fastify-anon-key: the plugin is already registered in this context or a parent of it. ' +
      'Register it once, at the root of the app (await app.register(fastifyAnonKey, options)): app.anonKey and verifyAnonKey ' +
      'then work in every child plugin, so register it nowhere else.')
  }
  checkOptions(options)
  const settings = ensureDefaults(options)
  warnIfKeyIsLostOnRestart(settings, app.log)
  const mirror = new Mirror(settings, app.log, await loadMetrics(settings.metrics))
  const attestation = settings.attestation === null ? null : createAttestation(settings.attestation, app.log)
  const api = new AnonKeys(mirror, attestation?.check ?? null)
  const guard = await createAdminGuard(settings)

  const hook = createVerifyHook(mirror, settings, attestation)
  app.decorate('anonKey', api as AnonKeyApi)
  app.decorate('verifyAnonKey', hook)
  app.decorate(HOOK, hook)
  app.decorate(ADMIN_PAGE_FACTS, adminPageFacts(app.prefix, settings))
  declareRequestIdentity(app)
  warnOfUndefinedGuards(app)

  await app.register(async function anonKeyAdmin (child) {
    // preClose runs before every onClose hook of the host, which may end the pool or client the store uses
    // (a pool.end() waits for the store's listening connection). onClose stops again for an app that never got ready.
    child.addHook('preClose', async () => { await mirror.stop() })
    child.addHook('onClose', async () => {
      await mirror.stop()
      await guard.close()
    })
    await mirror.start(settings.autoInitialize ? () => api.initialize() : null)
    try {
      await child.register(adminRoutes, { prefix: settings.prefix, api, guard, settings })
    } catch (error) {
      throw (error as { code?: unknown }).code === 'FST_ERR_DUPLICATED_ROUTE' ? registeredInSibling(settings.prefix, error) : error
    }
  })
}

/** Two registrations in sibling contexts with one prefix: their routes collide in the app's one router. */
function registeredInSibling (prefix: string, cause: unknown): Error {
  const error = new OptionError.ALREADY_REGISTERED(`fastify-anon-key: its admin routes under prefix "${prefix}" are already declared, most ` +
    'likely by another registration of the plugin in a sibling context. Register it once, at the root of the app: app.anonKey and ' +
    'verifyAnonKey then work in every child plugin. For two separate sets of keys, give each registration its own prefix ' +
    'and its own store namespace.')
  error.cause = cause
  return error
}

export const fastifyAnonKey = fp(anonKeyPlugin, { fastify: '5.x', name: 'fastify-anon-key' })
export default fastifyAnonKey

export type { AnonKeyApi, AnonKeyProjectApi } from './keys/api.js'
export type { AnonKeyEvents, CreatedEvent, DeletedEvent, FirstUsedEvent, RevokedEvent, RotatedEvent, UpdatedEvent } from './keys/events.js'
export type { AnonKeyInfo, PreviousKeyInfo } from './keys/key-info.js'
export type { KeyUsage, KeyUsageReport } from './keys/usage-report.js'
export type {
  ChangeContext, CreateKeyOptions, DeleteResult, KeyContext, RevokeResult, RotateOptions, RotateResult, UpdateKeyOptions, VerifyContext
} from './keys/operations.js'
export { ERROR_CODES } from './errors/codes.js'
export type { ErrorBody, ErrorCode } from './errors/codes.js'
export type { AnonKeyIdentity, VerifyResult } from './keys/project-keys.js'
export type { OptionErrorCode } from './errors/option-errors.js'
export type { AdminJwtOptions, AuthorizeResult, FastifyAnonKeyOptions } from './options/options.js'
export type { MetricsOptions } from './metrics/metrics.js'
export type { MeterProviderLike } from './metrics/otel-types.js'
export { AnonKeyRejection } from './errors/rejection.js'
export type { RefusalCode, RejectionCode } from './errors/rejection.js'
export { memoryStore } from './stores/memory/memory-store.js'
export type { MemoryStoreOptions } from './stores/memory/memory-store.js'
export { postgresStore } from './stores/postgres/postgres-store.js'
export type { PostgresStoreOptions } from './stores/postgres/postgres-store.js'
export type { PgPool, PgPoolClient, PgQueryable } from './stores/postgres/client.js'
export { redisStore } from './stores/redis/redis-store.js'
export type { RedisStoreOptions } from './stores/redis/redis-store.js'
export type { RedisClient, RedisConnection } from './stores/redis/client.js'
export { sqliteStore } from './stores/sqlite/sqlite-store.js'
export type { SqliteStoreOptions } from './stores/sqlite/sqlite-store.js'
export type { SqliteDatabase, SqliteStatement } from './stores/sqlite/database.js'
export type { AnonKeyStore, ProjectSnapshot } from './stores/interface.js'
export { verifyAnonKey } from './verify/hook.js'
export { anonKeyRateLimit } from './verify/rate-limit.js'
export type { AnonKeyRateLimitOptions, RateLimitContext } from './verify/rate-limit.js'
export type { RateLimit } from './domain/rate-limit.js'
export type { AllowedApps, AndroidApp } from './domain/apps.js'
export type { AttestationOptions, AttestationVerdict } from './attestation/attestation-options.js'
export type { VerifyAnonKeyHook } from './verify/hook.js'
