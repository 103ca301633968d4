import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { bearerToken } from './bearer.js'
import type { KeyCache } from './key-cache.js'
import { AnonKeyRejection } from './rejection.js'
import { setIdentity } from './request-identity.js'

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
 * Builds the hook over the plugin's in-process cache: no store call, and no allocation for a valid key.
 * A callback-style hook is the cheapest kind for Fastify to run. The fast path is one Map lookup of the whole
 * Authorization value "Bearer <current key>" (see KeyCache). A refusal goes to `done()` so that @fastify/auth can
 * try its next strategy; see AnonKeyRejection for why it keeps the contract's format.
 */
export function createVerifyHook (cache: KeyCache, { apiKeyHeader, expiryHeader }: VerifyHookSettings): VerifyAnonKeyHook {
  function verifyAnonKey (request: FastifyRequest, reply: FastifyReply, done?: HookHandlerDoneFunction): Promise<void> | undefined {
    // Supabase clients send the anon key in apikey and a signed-in user's JWT in Authorization: apikey decides.
    const headers = request.headers // a getter that may copy: read it once
    const presented = apiKeyHeader === null ? undefined : headers[apiKeyHeader]
    const header = headers.authorization
    const entry = presented === undefined
      ? cache.currentForHeader(header) ?? cache.lookup(bearerToken(header), Date.now())
      : cache.lookup(presented, Date.now())
    if (typeof entry === 'string') {
      reply.header('www-authenticate', 'Bearer') // RFC 6750; set on the reply, so a host error handler keeps it
      return refuse(new AnonKeyRejection(entry), done)
    }
    setIdentity(request, entry.identity)
    if (expiryHeader && entry.identity.expiresAt !== null) reply.header(EXPIRY_HEADER, entry.identity.expiresAt)
    if (done === undefined) return PASSED
    done()
    return undefined
  }
  return verifyAnonKey as VerifyAnonKeyHook
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
