import type { FastifyJWTOptions } from '@fastify/jwt'

type VerifyOptions = NonNullable<FastifyJWTOptions['verify']>

/** Each `verify` option that checks a claim, and the claim it checks. */
const CHECKED_CLAIMS: Array<[keyof VerifyOptions, string]> = [
  ['allowedIss', 'iss'], ['allowedAud', 'aud'], ['allowedSub', 'sub'], ['allowedJti', 'jti'], ['allowedNonce', 'nonce'], ['maxAge', 'iat']
]

/**
 * fast-jwt checks a claim named by `allowedIss`, `allowedAud`, `allowedSub`, `allowedJti`, `allowedNonce` or
 * `maxAge` only on a token that carries it: a token without `iat` passed `maxAge` forever, one without `iss`
 * passed `allowedIss`. A host that sets one means "only these", so its claim is made required as well. Pure.
 */
export function withImpliedClaims (verify: VerifyOptions): VerifyOptions {
  const required = new Set(verify.requiredClaims ?? [])
  for (const [option, claim] of CHECKED_CLAIMS) {
    if (verify[option] !== undefined) required.add(claim)
  }
  return required.size === 0 ? verify : { ...verify, requiredClaims: [...required] }
}

/**
 * What a token fast-jwt verified still lacks, or null. Two gaps fast-jwt leaves: it finds a required claim with
 * `in`, so a name on Object.prototype (`constructor`, `toString`) passes without being in the token; and with
 * `maxAge` it never checks that `iat` is not in the future, where a token would outlive `maxAge` by as much. Pure.
 */
export function claimsProblem (payload: Record<string, unknown>, verify: VerifyOptions | undefined, now: number): string | null {
  for (const claim of verify?.requiredClaims ?? []) {
    if (!Object.hasOwn(payload, claim)) return `The ${claim} claim is required.`
  }
  if (verify?.maxAge !== undefined && verify.maxAge !== null) {
    const tolerance = Number(verify.clockTolerance ?? 0)
    if ((payload.iat as number) * 1000 > (verify.clockTimestamp || now) + tolerance) return 'The token was issued in the future.'
  }
  return null
}
