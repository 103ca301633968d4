import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { AnonKeyService } from '../keys/service.js'
import { bearerToken } from '../domain/bearer.js'
import { isTenantId } from '../domain/names.js'
import { NEEDS_RETIRED, type KeyCache, type ValidEntry } from '../keys/project-keys.js'
import type { RejectionCode } from '../errors/rejection.js'
import { AnonKeyRejection } from '../errors/rejection.js'
import { setIdentity } from './request-identity.js'
import { clientRefusal, type AttestationCheck, type ClientRefusal } from '../domain/client-rules.js'
import { clientInputs } from './client-inputs.js'

/**
 * verifyAnonKey, as a hook (`done` given: it calls it) or awaited from an async hook (no `done`: the promise
 * resolves when the request may go on and rejects with the refusal).
 */
export interface VerifyAnonKeyHook {
  (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void
  (request: FastifyRequest, reply: FastifyReply): Promise<void>
}

export interface VerifyHookSettings {
  /** A header that carries the key and, when present, is the one judged (lower case); null for none. */
  apiKeyHeader: string | null
  /** Whether a request verified with a previous key gets its expiry in `Anon-Key-Expires-At`. */
  expiryHeader: boolean
  /** Checks attestation tokens, and the header they come in (lower case); null without the `attestation` option. */
  attestationCheck?: { check: AttestationCheck, header: string } | null
}

/** Where the plugin leaves its hook on the instance it is registered in, for the standalone export to find. */
export const HOOK = Symbol('fastify-anon-key.verifyAnonKey')

const EXPIRY_HEADER = 'anon-key-expires-at'
const PASSED = Promise.resolve()

function refuse (refusal: AnonKeyRejection, done: HookHandlerDoneFunction | undefined): Promise<void> | undefined {
  if (done === undefined) return Promise.reject(refusal)
  done(refusal as unknown as Error)
  return undefined
}

/**
 * The 401 for a missing or unknown key. With an apiKeyHeader, it names the header the key came in, or both
 * headers when none was sent, so that a client that used apikey is not pointed at Authorization.
 */
function invalidKey (apiKeyHeader: string | null, fromApiKeyHeader: boolean): AnonKeyRejection {
  if (apiKeyHeader === null) return new AnonKeyRejection('AUTH_INVALID_CREDENTIALS')
  const where = fromApiKeyHeader ? `the ${apiKeyHeader} header` : `the ${apiKeyHeader} header or in the Authorization header as "Bearer anon_…"`
  return new AnonKeyRejection('AUTH_INVALID_CREDENTIALS', `A valid anon key is required in ${where}.`, `Send the project's anon key in ${where}.`)
}

/** A judgement that had to wait for the store: the promise when awaited, else handed to `done` when it settles. */
function later (judged: Promise<void | undefined>, done: HookHandlerDoneFunction | undefined): Promise<void> | undefined {
  if (done === undefined) return judged as Promise<void>
  judged.then(() => { done() }, (refusal: unknown) => { done(refusal as Error) })
  return undefined
}

/** Loads the retired keys of a cache's project into it (AnonKeyService.loadRetired); never rejects. */
type RetiredLoader = (cache: KeyCache) => Promise<void>

/**
 * Judges one request against one project's keys, from the in-process cache only: no store call, and no
 * allocation for a valid key. The fast path is one Map lookup of the whole Authorization value
 * "Bearer <current key>" (see KeyCache). A key restricted to origins passes only from one of them, after the key
 * itself was judged: a Set lookup for an origin a browser sent in normal form. The one exception to "no store
 * call": a well-formed key the document does not know waits for the project's retired keys, loaded once per
 * version of the project and shared by every request that waits (`retired` null: judged as loaded).
 */
function judge (cache: KeyCache, settings: VerifyHookSettings, request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction | undefined,
  retired: RetiredLoader | null): Promise<void> | undefined {
  // Supabase clients send the anon key in apikey and a signed-in user's JWT in Authorization: apikey decides.
  const headers = request.headers // a getter that may copy: read it once
  const presented = settings.apiKeyHeader === null ? undefined : headers[settings.apiKeyHeader]
  const header = headers.authorization
  let entry: ValidEntry | RejectionCode | typeof NEEDS_RETIRED | undefined = presented === undefined ? cache.currentForHeader(header) : undefined
  if (entry === undefined) {
    const key = presented === undefined ? bearerToken(header) : presented
    entry = retired === null ? cache.lookupLoaded(key, Date.now()) : cache.lookup(key, Date.now())
  }
  if (entry === NEEDS_RETIRED) {
    return later((retired as RetiredLoader)(cache).then(() => judge(cache, settings, request, reply, undefined, null)), done)
  }
  if (typeof entry === 'string') {
    reply.header('www-authenticate', 'Bearer') // RFC 6750; set on the reply, so a host error handler keeps it
    return refuse(entry === 'AUTH_INVALID_CREDENTIALS' ? invalidKey(settings.apiKeyHeader, presented !== undefined) : new AnonKeyRejection(entry), done)
  }
  const valid = entry
  if (valid.rules !== null) {
    const attestation = settings.attestationCheck ?? null
    const refusal = clientRefusal(valid.rules, clientInputs(headers, attestation?.header ?? null), attestation?.check ?? null, request)
    if (typeof refusal === 'string') return refuse(clientRejection(refusal, reply), done)
    if (refusal !== null) {
      return later(refusal.then((code) => {
        if (code !== null) throw clientRejection(code, reply)
        admit(valid, settings, request, reply)
      }), done)
    }
  }
  admit(valid, settings, request, reply)
  if (done === undefined) return PASSED
  done()
  return undefined
}

/** Lets a request through: `request.anonKey`, and the expiry of a previous key. */
function admit (entry: ValidEntry, settings: VerifyHookSettings, request: FastifyRequest, reply: FastifyReply): void {
  setIdentity(request, entry.identity)
  if (settings.expiryHeader && entry.identity.expiresAt !== null) reply.header(EXPIRY_HEADER, entry.identity.expiresAt)
}

/** The refusal of a request whose client the key does not admit; a 401 (attestation) carries WWW-Authenticate. */
function clientRejection (code: ClientRefusal, reply: FastifyReply): AnonKeyRejection {
  const rejection = new AnonKeyRejection(code)
  if (rejection.statusCode === 401) reply.header('www-authenticate', 'Bearer')
  return rejection
}

/**
 * Builds the hook. A callback-style hook is the cheapest kind for Fastify to run. A refusal goes to `done()` so
 * that @fastify/auth can try its next strategy; see AnonKeyRejection for why it keeps the contract's format.
 *
 * In tenant mode the request's tenant is resolved first: a cached tenant costs the resolver and one Map lookup
 * more. An uncached one is loaded once (its first requests share the load); beyond the bound on loads in flight,
 * or with the store down, the request gets 503 STORE_UNAVAILABLE with Retry-After: 1. A request that names no
 * tenant gets 401.
 */
export function createVerifyHook (service: AnonKeyService, hookSettings: VerifyHookSettings): VerifyAnonKeyHook {
  const settings = { ...hookSettings, attestationCheck: service.attestationChecker }
  const tenants = service.tenants
  const retired: RetiredLoader = (cache) => service.loadRetired(cache)
  if (tenants === null) {
    const cache = service.cache
    return function verifyAnonKey (request: FastifyRequest, reply: FastifyReply, done?: HookHandlerDoneFunction): Promise<void> | undefined {
      return judge(cache, settings, request, reply, done, retired)
    } as VerifyAnonKeyHook
  }
  const tenantOf = service.options.tenant as NonNullable<typeof service.options.tenant>
  return function verifyAnonKey (request: FastifyRequest, reply: FastifyReply, done?: HookHandlerDoneFunction): Promise<void> | undefined {
    const tenant = tenantOf(request)
    // Only well-formed tenant ids are ever cached, so a cached tenant needs no check of its id.
    const cache = tenants.get(tenant as string)
    if (cache !== undefined) {
      if (cache.epoch !== service.epoch) {
        // Marked before the reload, so that a store that is down is tried once per cacheTtlMs, not on every request.
        cache.epoch = service.epoch
        service.refresh(tenant as string)
      }
      return judge(cache, settings, request, reply, done, retired)
    }
    if (!isTenantId(tenant)) {
      reply.header('www-authenticate', 'Bearer')
      return refuse(invalidKey(settings.apiKeyHeader, false), done)
    }
    return later(tenants.load(tenant).then((loaded) => judge(loaded, settings, request, reply, undefined, retired), (error: unknown) => {
      request.log.warn({ err: error, tenant }, 'anon key: the keys of this tenant could not be loaded')
      reply.header('retry-after', '1')
      throw new AnonKeyRejection('STORE_UNAVAILABLE')
    }), done)
  } as VerifyAnonKeyHook
}

/**
 * The standalone `import { verifyAnonKey } from 'fastify-anon-key'`. Unlike `app.verifyAnonKey`, which is
 * undefined (and silently ignored by Fastify) on a route declared before the plugin was registered, it always
 * exists; at request time it uses the plugin registered in the route's context, and where there is none it
 * fails closed: 500 and an error log that says how to fix it, never a request let through.
 */
export const verifyAnonKey = function verifyAnonKey (request: FastifyRequest, reply: FastifyReply, done?: HookHandlerDoneFunction): Promise<void> | undefined {
  const hook = (request.server as unknown as { [HOOK]?: VerifyAnonKeyHook })[HOOK]
  if (hook !== undefined) return (hook as (...args: unknown[]) => Promise<void> | undefined)(request, reply, done)
  request.log.error({ route: request.routeOptions.url },
    'verifyAnonKey guards this route, but fastify-anon-key is not registered in its context or any parent, so the request was refused with 500. ' +
    'Register the plugin on the instance that declares the route or on one of its parents (await app.register(fastifyAnonKey, options) at the root), ' +
    'or wrap the plugin that registers it with fastify-plugin so that it is not encapsulated.')
  return refuse(new AnonKeyRejection('INTERNAL_ERROR'), done)
} as VerifyAnonKeyHook
