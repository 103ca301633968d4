import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { AnonKeyService } from './anon-key-api.js'
import type { KeyCache } from './key-cache.js'
import { REJECTIONS } from './rejection.js'

export type VerifyAnonKeyHook = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void

const BEARER_PREFIX_LENGTH = 7 // "Bearer "

/** The token after "Bearer " (scheme in any case), or undefined. */
function bearerValue (header: string | undefined): string | undefined {
  if (header === undefined || header.length <= BEARER_PREFIX_LENGTH || header.charCodeAt(6) !== 32) return undefined
  const scheme = header.slice(0, 6)
  return scheme === 'Bearer' || scheme.toLowerCase() === 'bearer' ? header.slice(BEARER_PREFIX_LENGTH) : undefined
}

/**
 * Judges one request against one project's keys, from the in-process cache only: no store call, no allocation
 * for a valid key. A key restricted to origins passes only from one of them (a Set lookup for an exact origin).
 */
function judge (cache: KeyCache, apiKeyHeader: string | null, request: FastifyRequest, done: HookHandlerDoneFunction): void {
  const header = request.headers.authorization
  let entry = cache.currentForHeader(header)
  if (entry === undefined) {
    let key = bearerValue(header)
    if (key === undefined && apiKeyHeader !== null) {
      const value = request.headers[apiKeyHeader]
      if (typeof value === 'string') key = value
    }
    const found = cache.lookup(key, Date.now())
    if (typeof found === 'string') {
      done(REJECTIONS[found] as unknown as Error)
      return
    }
    entry = found
  }
  if (entry.origins !== null && !entry.origins.allows(request.headers.origin, request.headers.referer)) {
    done(REJECTIONS.ANON_KEY_ORIGIN_NOT_ALLOWED as unknown as Error)
    return
  }
  request.anonKey = entry.identity
  done()
}

/**
 * Builds `verifyAnonKey`, a callback-style hook (the cheapest kind for Fastify to run). A refusal goes to
 * `done()` so that @fastify/auth can try its next strategy; see AnonKeyRejection for why it keeps the contract's
 * format. In tenant mode the request's tenant is resolved first: a cached tenant costs a Map lookup more; an
 * uncached one is loaded once (its first requests share the load), and beyond the bound on loads in flight,
 * or with the store down, the request gets 503 STORE_UNAVAILABLE with Retry-After: 1.
 */
export function createVerifyHook (service: AnonKeyService, apiKeyHeader: string | null): VerifyAnonKeyHook {
  const tenants = service.tenants
  if (tenants === null) {
    const cache = service.cache
    return function verifyAnonKey (request, reply, done) {
      judge(cache, apiKeyHeader, request, done)
    }
  }
  return function verifyAnonKey (request, reply, done) {
    const tenant = service.tenantOf(request)
    if (tenant === null) {
      done(REJECTIONS.AUTH_INVALID_CREDENTIALS as unknown as Error)
      return
    }
    const cache = tenants.get(tenant)
    if (cache !== undefined) {
      if (cache.epoch !== service.epoch) service.refresh(tenant)
      judge(cache, apiKeyHeader, request, done)
      return
    }
    tenants.load(tenant).then((loaded) => { judge(loaded, apiKeyHeader, request, done) }, (error: unknown) => {
      request.log.warn({ err: error, tenant }, 'anon key: tenant keys could not be loaded')
      reply.header('retry-after', '1')
      done(REJECTIONS.STORE_UNAVAILABLE as unknown as Error)
    })
  }
}
