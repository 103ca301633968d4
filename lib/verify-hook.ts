import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
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
 * Builds `verifyAnonKey`, a callback-style hook (the cheapest kind for Fastify to run). It reads only the
 * in-process cache: no store call, no allocation for a valid key. A refusal goes to `done()` so that
 * @fastify/auth can try its next strategy; see AnonKeyRejection for why it keeps the contract's format.
 */
export function createVerifyHook (cache: KeyCache, apiKeyHeader: string | null): VerifyAnonKeyHook {
  return function verifyAnonKey (request, reply, done) {
    const header = request.headers.authorization
    const current = cache.currentForHeader(header)
    if (current !== undefined) {
      request.anonKey = current.identity
      done()
      return
    }
    let key = bearerValue(header)
    if (key === undefined && apiKeyHeader !== null) {
      const value = request.headers[apiKeyHeader]
      if (typeof value === 'string') key = value
    }
    const entry = cache.lookup(key, Date.now())
    if (typeof entry === 'string') {
      done(REJECTIONS[entry] as unknown as Error)
      return
    }
    request.anonKey = entry.identity
    done()
  }
}
