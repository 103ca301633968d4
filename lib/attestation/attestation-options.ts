import type { FastifyRequest } from 'fastify'
import { OptionError } from '../errors/option-errors.js'

/** What a custom `verify` answers: valid or not, or valid until `expiresAt` (ms since the epoch), kept that long. */
export type AttestationVerdict = boolean | { expiresAt: number }

/**
 * Attestation tokens that prove a request comes from a genuine app. With `issuer` and `audience`, RS256 JWTs
 * checked against a JWKS, as Firebase App Check issues them; with `verify`, any other provider.
 */
export interface AttestationOptions {
  /** The header that carries the token. Default: 'x-firebase-appcheck'. */
  header?: string
  /** Where the provider publishes its signing keys. Default: Firebase App Check's. */
  jwksUrl?: string
  /** The `iss` a token must carry: 'https://firebaseappcheck.googleapis.com/<project number>'. */
  issuer?: string
  /** An `aud` a token must carry: 'projects/<project number>' (or several). */
  audience?: string | string[]
  /**
   * Replaces the JWT check: resolves to whether the token is valid (or until when). `request` is undefined when
   * app.anonKey.verify() asks. A throw, a rejection or a timeout refuses the token.
   */
  verify?: (token: string, request: FastifyRequest | undefined) => AttestationVerdict | Promise<AttestationVerdict>
  /** How long a JWKS fetch, or a call of `verify`, may take before the token is refused, in ms. Default: 3000. */
  timeoutMs?: number
  /** How many verified tokens are kept until they expire, least recently used dropped. Default: 10000. */
  maxCachedTokens?: number
}

export interface ResolvedAttestation {
  header: string
  jwksUrl: string
  issuer: string | null
  audience: string[]
  verify: AttestationOptions['verify'] | null
  timeoutMs: number
  maxCachedTokens: number
}

export const FIREBASE_APP_CHECK_JWKS = 'https://firebaseappcheck.googleapis.com/v1/jwks'
export const FIREBASE_APP_CHECK_HEADER = 'x-firebase-appcheck'

const KNOWN: ReadonlyArray<keyof AttestationOptions> = ['header', 'jwksUrl', 'issuer', 'audience', 'verify', 'timeoutMs', 'maxCachedTokens']
const EXAMPLE = 'attestation: { issuer: \'https://firebaseappcheck.googleapis.com/123456789\', audience: \'projects/123456789\' }'
const HEADER_NAME = /^[a-z0-9-]+$/i

function fail (option: string, problem: string, fix: string): never {
  throw new OptionError.INVALID_OPTION(`fastify-anon-key: option "${option}" ${problem}. ${fix}`)
}

function checkWhole (option: string, value: unknown, min: number, max: number): void {
  if (value !== undefined && (!Number.isInteger(value) || (value as number) < min || (value as number) > max)) {
    fail(option, `must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`, 'Set it in that range, or leave it out for the default.')
  }
}

function isHttpUrl (value: string): boolean {
  try {
    const url = new URL(value)
    return url.protocol === 'https:' || url.protocol === 'http:'
  } catch {
    return false
  }
}

/** Checks the `attestation` option, throwing a message that names the sub-option and the fix. */
export function checkAttestationOption (value: unknown, apiKeyHeader: unknown): void {
  if (value === undefined) return
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail('attestation', 'must be an object', `Pass for Firebase App Check ${EXAMPLE}, or { verify(token, request) } for another provider.`)
  }
  const options = value as Record<string, unknown>
  const unknown = Object.keys(options).find((name) => !(KNOWN as string[]).includes(name))
  if (unknown !== undefined) fail(`attestation.${unknown}`, 'is not an option of attestation', `It takes ${KNOWN.join(', ')}.`)
  if (options.verify !== undefined && typeof options.verify !== 'function') {
    fail('attestation.verify', 'must be a function (token, request) => boolean', 'Pass a function, or leave it out to check Firebase App Check tokens.')
  }
  if (options.verify === undefined) {
    if (typeof options.issuer !== 'string' || options.issuer === '') {
      fail('attestation.issuer', `is required to check tokens, got ${JSON.stringify(options.issuer) ?? 'nothing'}`,
        `For Firebase App Check it is 'https://firebaseappcheck.googleapis.com/<project number>': ${EXAMPLE}. Or pass attestation.verify for another provider.`)
    }
    const audience = options.audience
    const audiences = Array.isArray(audience) ? audience : [audience]
    if (audiences.length === 0 || !audiences.every((entry) => typeof entry === 'string' && entry !== '')) {
      fail('attestation.audience', `must be a string or an array of strings, got ${JSON.stringify(audience) ?? 'nothing'}`,
        `For Firebase App Check it is 'projects/<project number>': ${EXAMPLE}.`)
    }
    if (options.jwksUrl !== undefined && (typeof options.jwksUrl !== 'string' || !isHttpUrl(options.jwksUrl))) {
      fail('attestation.jwksUrl', `must be an http(s) URL, got ${JSON.stringify(options.jwksUrl)}`, `Leave it out for Firebase App Check's ${FIREBASE_APP_CHECK_JWKS}.`)
    }
  } else {
    for (const name of ['issuer', 'audience', 'jwksUrl'] as const) {
      if (options[name] !== undefined) fail(`attestation.${name}`, 'has no use with attestation.verify', 'Check the token in verify, or leave verify out to check JWTs.')
    }
  }
  if (options.header !== undefined) {
    const header = options.header
    if (typeof header !== 'string' || !HEADER_NAME.test(header) || header.toLowerCase() === 'authorization' ||
      (typeof apiKeyHeader === 'string' && header.toLowerCase() === apiKeyHeader.toLowerCase()) || (apiKeyHeader === true && header.toLowerCase() === 'apikey')) {
      fail('attestation.header', `must be a header name of its own, got ${JSON.stringify(header)}`,
        `Leave it out for Firebase App Check's ${FIREBASE_APP_CHECK_HEADER}; it cannot be Authorization or the apiKeyHeader.`)
    }
  }
  checkWhole('attestation.timeoutMs', options.timeoutMs, 1, 60_000)
  checkWhole('attestation.maxCachedTokens', options.maxCachedTokens, 1, 1_000_000)
}

/** The option with its defaults; null when it is not given. Call after checkAttestationOption. */
export function resolveAttestation (options: AttestationOptions | undefined): ResolvedAttestation | null {
  if (options === undefined) return null
  return {
    header: (options.header ?? FIREBASE_APP_CHECK_HEADER).toLowerCase(),
    jwksUrl: options.jwksUrl ?? FIREBASE_APP_CHECK_JWKS,
    issuer: options.issuer ?? null,
    audience: options.audience === undefined ? [] : [options.audience].flat(),
    verify: options.verify ?? null,
    timeoutMs: options.timeoutMs ?? 3000,
    maxCachedTokens: options.maxCachedTokens ?? 10_000
  }
}
