/**
 * The `jwt` option's values that @fastify/jwt would take without a word and then apply differently from what
 * they say, or not at all: each is refused by name at ready(). Pure; each returns [option, problem, fix] or null.
 */

const isKeyFunction = (secret: unknown): boolean =>
  typeof secret === 'function' || (secret !== null && typeof secret === 'object' && !Buffer.isBuffer(secret) && typeof (secret as { public?: unknown }).public === 'function')

/** What is wrong with `jwt.verify`'s values. */
export function jwtVerifyProblem (jwt: Record<string, any>): [string, string, string] | null {
  const verify = jwt.verify as Record<string, unknown> | undefined
  if (verify === undefined) return null
  const { algorithms, requiredClaims } = verify
  if (Array.isArray(algorithms) && algorithms.some((algorithm) => String(algorithm).toLowerCase() === 'none')) {
    return ['jwt.verify.algorithms', 'allows "none", unsigned tokens', 'Admin tokens must be signed: list only the algorithms your issuer signs with, such as ["HS256"] or ["RS256"].']
  }
  if (requiredClaims !== undefined && (!Array.isArray(requiredClaims) || !requiredClaims.every((claim) => typeof claim === 'string' && claim !== ''))) {
    return ['jwt.verify.requiredClaims', `must be an array of claim names, got ${JSON.stringify(requiredClaims)}`, 'Pass for example requiredClaims: [\'exp\'].']
  }
  if (verify.key !== undefined && isKeyFunction(jwt.secret)) {
    return ['jwt.verify.key', 'cannot be used with a key function in jwt.secret, which gives the key of each token', 'Keep one of them: the key function, or jwt.verify.key (or a plain jwt.secret).']
  }
  return null
}

/** With `authorize`, the JWT check is replaced: options that only it would apply are refused rather than ignored. */
export function jwtWithAuthorizeProblem (jwt: Record<string, unknown> | undefined): [string, string, string] | null {
  for (const name of ['verify', 'decode', 'trusted'] as const) {
    if (jwt?.[name] !== undefined) {
      return [`jwt.${name}`, 'has no effect with authorize: authorize(request) replaces the admin JWT check', `Remove jwt.${name}, or remove authorize to have admin JWTs verified with it.`]
    }
  }
  return null
}
