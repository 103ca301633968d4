import fastifyJwt from '@fastify/jwt'
import Fastify, { type FastifyRequest } from 'fastify'
import { bearerToken } from './bearer.js'
import { anonKeyError } from './errors.js'
import { isAnonKey } from './domain/key.js'
import type { ResolvedOptions } from './options.js'

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

/**
 * fast-jwt checks `allowedIss` / `allowedAud` only on tokens that carry the claim; a token without it passes.
 * A host that names an issuer or an audience means "only these", so the claim is made required as well.
 */
function requireConfiguredClaims (jwt: NonNullable<ResolvedOptions['jwt']>): NonNullable<ResolvedOptions['jwt']> {
  const verify = jwt.verify
  if (verify === undefined) return jwt
  const required = new Set(verify.requiredClaims ?? [])
  if (verify.allowedIss !== undefined) required.add('iss')
  if (verify.allowedAud !== undefined) required.add('aud')
  return { ...jwt, verify: { ...verify, requiredClaims: [...required] } }
}

/**
 * Admin JWTs are verified by @fastify/jwt registered on a private Fastify instance that never listens: the
 * verifier is @fastify/jwt's own, yet nothing is decorated on the host, whose own `jwt` (if any) stays untouched.
 */
async function guardFromJwt (options: ResolvedOptions): Promise<AdminGuard> {
  const verifierApp = Fastify({ logger: false })
  await verifierApp.register(fastifyJwt, requireConfiguredClaims(options.jwt as NonNullable<ResolvedOptions['jwt']>))
  await verifierApp.ready()
  const { isAdmin } = options

  const guard = async (request: FastifyRequest): Promise<{ actor: string | null }> => {
    const token = bearerToken(request.headers.authorization)
    if (token === undefined) {
      throw invalidCredentials('An admin token is required in the Authorization header as "Bearer <JWT>".')
    }
    if (isAnonKey(token)) {
      throw invalidCredentials('An anon key is not an admin token.')
    }
    let payload: any
    try {
      payload = verifierApp.jwt.verify(token)
    } catch (error: any) {
      const expired = error?.code === 'FAST_JWT_EXPIRED'
      throw invalidCredentials(expired ? 'The admin token has expired.' : 'The admin token is invalid.')
    }
    if (!isAdmin(payload)) {
      throw anonKeyError('FORBIDDEN', 'This route is for project admins only.')
    }
    return { actor: typeof payload?.sub === 'string' ? payload.sub : null }
  }
  return Object.assign(guard, { close: () => verifierApp.close() })
}

export async function createAdminGuard (options: ResolvedOptions): Promise<AdminGuard> {
  return options.authorize === null ? guardFromJwt(options) : guardFromAuthorize(options.authorize)
}
