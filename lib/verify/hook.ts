import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { bearerToken } from '../domain/bearer.js'
import { isTenantId, SINGLE_PROJECT } from '../domain/names.js'
import { AnonKeyRejection } from '../errors/rejection.js'
import type { AttestationCheck } from '../domain/client-rules.js'
import type { IncomingHttpHeaders } from 'node:http'
import { admit, judge, type Judging, type Verdict } from '../keys/judge.js'
import { clientInputs } from './client-inputs.js'
import type { Mirror } from '../keys/mirror.js'
import type { KeyCache } from '../keys/project-keys.js'
import { setIdentity } from './request-identity.js'
import { isPromiseLike, promiseFromResolver } from '../keys/tenant-resolver.js'

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
}

/** Checks attestation tokens, and the header they come in (lower case); null without the `attestation` option. */
export type AttestationSetting = { check: AttestationCheck, header: string } | null

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

/**
 * Judges one request against one project's keys (see keys/judge.ts: the same judge as `verify()`), from the
 * in-process cache: no store call but the retired keys' one load, and no allocation for a valid key. The fast
 * path is one Map lookup of the whole Authorization value "Bearer <current key>" (see KeyCache).
 */
function judgeRequest (cache: KeyCache, settings: VerifyHookSettings, request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction | undefined,
  judging: Judging<IncomingHttpHeaders>): Promise<void> | undefined {
  // Supabase clients send the anon key in apikey and a signed-in user's JWT in Authorization: apikey decides.
  const headers = request.headers // a getter that may copy: read it once
  const presented = settings.apiKeyHeader === null ? undefined : headers[settings.apiKeyHeader]
  const fast = presented === undefined ? cache.currentForHeader(headers.authorization) : undefined
  const verdict = fast !== undefined
    ? admit(fast, judging, headers, request)
    : judge(cache, presented === undefined ? bearerToken(headers.authorization) : presented, judging, headers, request)
  if (verdict instanceof Promise) {
    return later(verdict.then((settled) => answer(settled, settings, request, reply, presented !== undefined, undefined)), done)
  }
  return answer(verdict, settings, request, reply, presented !== undefined, done)
}

/** Lets the request through with its identity, or refuses it with the verdict's code. */
function answer (verdict: Verdict, settings: VerifyHookSettings, request: FastifyRequest, reply: FastifyReply, fromApiKeyHeader: boolean,
  done: HookHandlerDoneFunction | undefined): Promise<void> | undefined {
  if (typeof verdict === 'string') {
    const rejection = new AnonKeyRejection(verdict)
    if (rejection.statusCode !== 401) return refuse(rejection, done)
    reply.header('www-authenticate', 'Bearer') // RFC 6750; set on the reply, so a host error handler keeps it
    return refuse(verdict === 'AUTH_INVALID_CREDENTIALS' ? invalidKey(settings.apiKeyHeader, fromApiKeyHeader) : rejection, done)
  }
  setIdentity(request, verdict.identity)
  if (settings.expiryHeader && verdict.identity.expiresAt !== null) reply.header(EXPIRY_HEADER, verdict.identity.expiresAt)
  if (done === undefined) return PASSED
  done()
  return undefined
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
export function createVerifyHook (mirror: Mirror, settings: VerifyHookSettings, attestation: AttestationSetting): VerifyAnonKeyHook {
  const header = attestation?.header ?? null
  const judging: Judging<IncomingHttpHeaders> = {
    loadRetired: (cache) => mirror.loadRetired(cache),
    attest: attestation?.check ?? null,
    inputsOf: (headers) => clientInputs(headers, header)
  }
  if (mirror.single !== null) {
    return function verifyAnonKey (request: FastifyRequest, reply: FastifyReply, done?: HookHandlerDoneFunction): Promise<void> | undefined {
      return judgeRequest(mirror.held(SINGLE_PROJECT) as KeyCache, settings, request, reply, done, judging)
    } as VerifyAnonKeyHook
  }
  const tenantOf = mirror.options.tenant as NonNullable<typeof mirror.options.tenant>
  return function verifyAnonKey (request: FastifyRequest, reply: FastifyReply, done?: HookHandlerDoneFunction): Promise<void> | undefined {
    const tenant = tenantOf(request)
    // Only well-formed tenant ids are ever cached, so a cached tenant needs no check of its id.
    const cache = mirror.held(tenant as string)
    if (cache !== undefined) return judgeRequest(cache, settings, request, reply, done, judging)
    if (!isTenantId(tenant)) {
      if (isPromiseLike(tenant)) {
        request.log.error({ err: promiseFromResolver(tenantOf, tenant) }, 'verifyAnonKey refused the request with 500: the tenant resolver returned a promise')
        return refuse(new AnonKeyRejection('INTERNAL_ERROR'), done)
      }
      mirror.metrics?.refused('AUTH_INVALID_CREDENTIALS')
      reply.header('www-authenticate', 'Bearer')
      return refuse(invalidKey(settings.apiKeyHeader, false), done)
    }
    return later(mirror.cacheOf(tenant).then((loaded) => judgeRequest(loaded, settings, request, reply, undefined, judging), (error: unknown) => {
      request.log.warn({ err: error, tenant }, 'anon key: the keys of this tenant could not be loaded')
      reply.header('retry-after', '1')
      mirror.metrics?.refused('STORE_UNAVAILABLE')
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
