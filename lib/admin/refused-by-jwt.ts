import { OptionError } from '../errors/option-errors.js'

/** The groups of @fastify/jwt options, where an option named in a fast-jwt message is looked for. */
const GROUPS = ['verify', 'sign', 'decode'] as const

/**
 * The option error for a `jwt` option that @fastify/jwt or fast-jwt refused when the verifier was built (a
 * `maxAge` that is no duration, `algorithms` that do not fit the key): their message names the option bare
 * ("The maxAge option must be…", "…for algorithms RS256"), so it is found in the options given and named whole.
 */
export function refusedByJwt (error: unknown, jwt: Record<string, any>): Error {
  // What @fastify/jwt and fast-jwt throw at registration is an Error (a TokenError, an AssertionError).
  const message = (error as Error).message
  const named = /\bThe (\w+) option\b/.exec(message)?.[1] ?? (/\balgorithms?\b/.test(message) ? 'algorithms' : null)
  const group = named === null ? undefined : GROUPS.find((candidate) => Object.hasOwn(jwt[candidate] ?? {}, named))
  // Named in no group ("The key option…", "missing public key", "RSA Signatures … require a private and public
  // key"): what @fastify/jwt checks besides its groups is the secret, which fast-jwt calls the key.
  const option = group !== undefined ? `jwt.${group}.${named as string}` : 'jwt.secret'
  const refused = new OptionError.INVALID_OPTION(`fastify-anon-key: option "${option}" was refused by @fastify/jwt: ${message.replace(/\.$/, '')}. ` +
    'Fix it as that says, or leave it out (see the @fastify/jwt and fast-jwt documentation).')
  refused.cause = error
  return refused
}
