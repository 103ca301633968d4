import type { FastifyRequest } from 'fastify'
import { normaliseRateLimit, type RateLimit } from '../domain/rate-limit.js'
import { AnonKeyRejection } from '../errors/rejection.js'
import { OptionError } from '../errors/option-errors.js'
import { rateLimitOf } from '../keys/key-limits.js'
import type { AnonKeyIdentity } from '../keys/project-keys.js'

/** What @fastify/rate-limit hands its errorResponseBuilder. */
export interface RateLimitContext {
  statusCode: number
  max: number
  ttl: number
  after: string
}

/** The options anonKeyRateLimit gives @fastify/rate-limit; spread them into its registration. */
export interface AnonKeyRateLimitOptions {
  /** After onRequest, so that verifyAnonKey has judged the key. */
  hook: 'preHandler'
  /** One counter per key (tenant and name) for a request with a verified anon key; per client IP otherwise. */
  keyGenerator: (request: FastifyRequest) => string
  max: (request: FastifyRequest, key: string) => number
  timeWindow: (request: FastifyRequest, key: string) => number
  /** 429 RATE_LIMITED in the plugin's error format. */
  errorResponseBuilder: (request: FastifyRequest, context: RateLimitContext) => AnonKeyRejection
}

const identityOf = (request: FastifyRequest): Readonly<AnonKeyIdentity> | null =>
  (request as FastifyRequest & { anonKey?: Readonly<AnonKeyIdentity> | null }).anonKey ?? null

/**
 * Options for @fastify/rate-limit that limit each anon key on its own: by the key's `rateLimit` when it has
 * one, else by `defaults`; a request without a verified anon key is limited by IP with the defaults. The
 * limiter, its stores (Redis, for several instances) and its headers are @fastify/rate-limit's own.
 *
 * app.register(rateLimit, { ...anonKeyRateLimit({ max: 100, timeWindowMs: 60_000 }), redis })
 */
export function anonKeyRateLimit (defaults: RateLimit): AnonKeyRateLimitOptions {
  const checked = normaliseRateLimit(defaults, 'anonKeyRateLimit(defaults)')
  if ('problem' in checked || checked.rateLimit === null) {
    const problem = 'problem' in checked ? checked.problem : 'anonKeyRateLimit(defaults) must be an object { max, timeWindowMs }, got null'
    throw new OptionError.INVALID_OPTION(`fastify-anon-key: ${problem}. Pass for example anonKeyRateLimit({ max: 100, timeWindowMs: 60000 }).`)
  }
  const fallback = checked.rateLimit
  return {
    hook: 'preHandler',
    keyGenerator (request) {
      const identity = identityOf(request)
      // Tenant ids and key names never hold ':', so the parts cannot run into each other.
      return identity === null ? `ip:${request.ip}` : `anon-key:${identity.tenant ?? ''}:${identity.name}`
    },
    max: (request) => (rateLimitOf(identityOf(request)) ?? fallback).max,
    timeWindow: (request) => (rateLimitOf(identityOf(request)) ?? fallback).timeWindowMs,
    errorResponseBuilder (request, context) {
      const who = identityOf(request) === null ? 'from this address without an anon key' : 'with this anon key'
      return new AnonKeyRejection('RATE_LIMITED', `Too many requests ${who}: at most ${context.max} per window. Retry in ${context.after}.`)
    }
  }
}
