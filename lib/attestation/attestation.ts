import { createVerifier } from 'fast-jwt'
import type { AttestationCheck, AttestationRefusal } from '../domain/client-rules.js'
import type { AttestationVerdict, ResolvedAttestation } from './attestation-options.js'
import { JwksKeys, type JwksLogger } from './jwks.js'
import { VerifiedTokens } from './verified-tokens.js'

/** The longest token looked at; Firebase App Check's are about 1 KB. */
const MAX_TOKEN_LENGTH = 8192

/**
 * Resolves to when a valid token expires (ms since the epoch), true for a valid token not to be kept, or null for
 * a token that is not valid. Never rejects.
 */
type TokenCheck = (token: string, request: unknown) => Promise<number | true | null>

export interface Attestation {
  check: AttestationCheck
  /** The header the token comes in, lower case. */
  header: string
  /** The provider's keys, for a JWT check; null with a custom verify. */
  jwks: JwksKeys | null
}

/** Settles like `promise`, or with null after `ms`. */
function within<T> (promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<null>((resolve) => { timer = setTimeout(resolve, ms, null) })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** RS256 JWTs against the provider's JWKS, with the issuer and audience the option names. */
function jwtCheck (options: ResolvedAttestation, jwks: JwksKeys): TokenCheck {
  const verifier = createVerifier({
    algorithms: ['RS256'],
    allowedIss: options.issuer as string,
    allowedAud: options.audience,
    // fast-jwt checks allowedIss and allowedAud only on tokens that carry the claims: without these, none would be needed.
    requiredClaims: ['exp', 'iss', 'aud'],
    key: async ({ header }: { header: { kid?: unknown } }) => {
      const key = await jwks.keyFor(header.kid)
      if (key === null) throw new Error('no signing key has this kid')
      return key
    }
  })
  return async (token) => {
    try {
      // exp is required, and fast-jwt refuses one that is not a number.
      const payload = await verifier(token) as { exp: number }
      return payload.exp * 1000
    } catch {
      return null
    }
  }
}

/** A provider's own check: valid until `expiresAt` when it says so, else not cached past the call. */
function customCheck (options: ResolvedAttestation, log: JwksLogger): TokenCheck {
  const verify = options.verify as NonNullable<ResolvedAttestation['verify']>
  return async (token, request) => {
    let verdict: AttestationVerdict | null
    try {
      verdict = await within(Promise.resolve(verify(token, request as never)), options.timeoutMs)
    } catch (error) {
      log.warn({ err: error }, 'anon key attestation: attestation.verify threw; the token is refused')
      return null
    }
    if (verdict === null) log.warn({ timeoutMs: options.timeoutMs }, 'anon key attestation: attestation.verify did not answer in time; the token is refused')
    if (verdict === true) return true
    if (verdict !== null && typeof verdict === 'object' && Number.isFinite(verdict.expiresAt)) return verdict.expiresAt
    return null
  }
}

/**
 * The attestation check of the plugin. A token verified once is kept until it expires, at most `maxCachedTokens`
 * of them (see VerifiedTokens): the next requests with it cost a lookup, synchronously. Only tokens that verified
 * are kept, so random tokens cannot grow memory; each of those costs a decode (and an RSA check when its kid is
 * known).
 */
export function createAttestation (options: ResolvedAttestation, log: JwksLogger): Attestation {
  const jwks = options.verify === null ? new JwksKeys(options.jwksUrl, options.timeoutMs, log) : null
  const tokenCheck = jwks === null ? customCheck(options, log) : jwtCheck(options, jwks)
  const verified = new VerifiedTokens(options.maxCachedTokens)

  const check: AttestationCheck = (token, request) => {
    if (typeof token !== 'string' || token === '') return 'ANON_KEY_ATTESTATION_REQUIRED'
    if (token.length > MAX_TOKEN_LENGTH) return 'ANON_KEY_ATTESTATION_INVALID'
    const expiresAt = verified.get(token)
    if (expiresAt !== undefined) {
      if (Date.now() < expiresAt) return null
      verified.delete(token)
      return 'ANON_KEY_ATTESTATION_INVALID'
    }
    return tokenCheck(token, request).then((until): AttestationRefusal | null => {
      if (until === true) return null
      if (until === null || Date.now() >= until) return 'ANON_KEY_ATTESTATION_INVALID'
      verified.set(token, until)
      return null
    })
  }
  return { check, header: options.header, jwks }
}
