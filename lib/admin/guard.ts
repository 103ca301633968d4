import fastifyJwt, { type FastifyJWTOptions } from '@fastify/jwt'
import Fastify, { type FastifyRequest } from 'fastify'
import { bearerToken } from '../domain/bearer.js'
import { anonKeyError } from '../errors/codes.js'
import { isAnonKey } from '../domain/key.js'
import { callKeyFunction } from './key-function.js'
import { claimsProblem, withImpliedClaims } from './admin-claims.js'
import { refusedByJwt } from './refused-by-jwt.js'
import type { ResolvedOptions } from '../options/options.js'

/** Checks a request to an admin route. Resolves to the actor for the audit events, or throws 401 / 403. */
export type AdminGuard = ((request: FastifyRequest) => Promise<{ actor: string | null }>) & { close: () => Promise<void> }

function invalidCredentials (message: string): Error {
  return anonKeyError('AUTH_INVALID_CREDENTIALS', message)
}

function guardFromAuthorize (authorize: NonNullable<ResolvedOptions['authorize']>): AdminGuard {
  const guard = async (request: FastifyRequest): Promise<{ actor: string | null }> => {
    const result = await authorize(request)
    if (result === false || result === null || result === undefined) {
      throw anonKeyError('FORBIDDEN', 'This route is for project admins only.')
    }
    return { actor: typeof result === 'object' ? result.actor ?? null : null }
  }
  return Object.assign(guard, { close: async () => {} })
}

/** The key that verifies admin tokens when it is a function (`secret` or `secret.public`), else null. */
function keyFunctionOf (secret: unknown): ((...args: any[]) => unknown) | null {
  const key = secret !== null && typeof secret === 'object' && !Buffer.isBuffer(secret) ? (secret as { public?: unknown }).public : secret
  return typeof key === 'function' ? key as (...args: any[]) => unknown : null
}

/**
 * Admin JWTs are verified by @fastify/jwt registered on a private Fastify instance that never listens: the
 * verifier is @fastify/jwt's own, yet nothing is decorated on the host, whose own `jwt` (if any) stays untouched.
 * The steps are those of @fastify/jwt's `request.jwtVerify()`, each awaited: decode with `jwt.decode`, ask a key
 * function (sync or async) for the key, verify, then ask `jwt.trusted` (the deny-list). Any failure is a 401.
 */
async function guardFromJwt (options: ResolvedOptions): Promise<AdminGuard> {
  const given = options.jwt as NonNullable<ResolvedOptions['jwt']>
  const jwtOptions = given.verify === undefined ? given : { ...given, verify: withImpliedClaims(given.verify) }
  const verifierApp = Fastify({ logger: false })
  try {
    await verifierApp.register(fastifyJwt, jwtOptions)
    await verifierApp.ready()
  } catch (error) {
    await verifierApp.close()
    throw refusedByJwt(error, given)
  }
  const { isAdmin, storeTimeoutMs } = options
  const keyFunction = keyFunctionOf(jwtOptions.secret)
  const trusted = jwtOptions.trusted

  async function verifiedPayload (request: FastifyRequest, token: string): Promise<any> {
    let payload: any
    try {
      const decoded = verifierApp.jwt.decode(token, jwtOptions.decode)
      if (keyFunction === null) {
        payload = await verifierApp.jwt.verify(token)
      } else {
        const key = await callKeyFunction(keyFunction, request, decoded, storeTimeoutMs).catch((error: unknown) => {
          // Worth a look when it is not an attacker's token: a JWKS endpoint down, a kid that no key has.
          request.log.warn({ err: error }, 'anon key admin token refused: the jwt key function failed')
          throw error
        })
        payload = await verifierApp.jwt.verify(token, { key } as any)
      }
    } catch (error: any) {
      const expired = error?.code === 'FAST_JWT_EXPIRED'
      throw invalidCredentials(expired ? 'The admin token has expired.' : 'The admin token is invalid.')
    }
    if (claimsProblem(payload, jwtOptions.verify, Date.now()) !== null) throw invalidCredentials('The admin token is invalid.')
    if (trusted !== undefined && !(await isTrusted(trusted, request, payload))) {
      throw invalidCredentials('The admin token has been revoked.')
    }
    return payload
  }

  const guard = async (request: FastifyRequest): Promise<{ actor: string | null }> => {
    const token = bearerToken(request.headers.authorization)
    if (token === undefined) {
      throw invalidCredentials('An admin token is required in the Authorization header as "Bearer <JWT>".')
    }
    if (isAnonKey(token)) {
      throw invalidCredentials('An anon key is not an admin token.')
    }
    const payload = await verifiedPayload(request, token)
    if (!(await isAdmin(payload, request))) {
      throw anonKeyError('FORBIDDEN', 'This route is for project admins only.')
    }
    return { actor: typeof payload?.sub === 'string' ? payload.sub : null }
  }
  return Object.assign(guard, { close: () => verifierApp.close() })
}

/** `jwt.trusted`, sync or async. A deny-list that throws or rejects trusts nothing: it fails closed, logged. */
async function isTrusted (trusted: NonNullable<FastifyJWTOptions['trusted']>, request: FastifyRequest, payload: unknown): Promise<boolean> {
  try {
    return Boolean(await trusted(request, payload as Record<string, unknown>))
  } catch (error) {
    request.log.error({ err: error }, 'anon key admin token refused: jwt.trusted threw')
    return false
  }
}

export async function createAdminGuard (options: ResolvedOptions): Promise<AdminGuard> {
  return options.authorize === null ? guardFromJwt(options) : guardFromAuthorize(options.authorize)
}
