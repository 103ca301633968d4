/**
 * Which @fastify/jwt options the admin guard honours. The guard verifies the token of one header itself (it
 * decorates nothing on the host), so options about where a token is found or how `request.user` is shaped
 * cannot apply; accepting them silently would fail closed or, worse, open. Each one is refused by name.
 */

/** Honoured: how the token is decoded and verified, the deny-list, and signing options (the guard never signs). */
const HONOURED = new Set(['secret', 'decode', 'verify', 'trusted', 'sign'])

const REFUSED: Record<string, string> = {
  cookie: 'admin tokens are read from the Authorization header only',
  messages: 'admin errors use the plugin\'s own codes and messages',
  formatUser: 'isAdmin(payload, request) receives the verified payload itself; nothing is set on request.user',
  decoratorName: 'the plugin decorates nothing on the host request',
  namespace: 'the plugin decorates nothing on the host',
  jwtDecode: 'the plugin decorates nothing on the host request',
  jwtVerify: 'the plugin decorates nothing on the host request',
  jwtSign: 'the plugin decorates nothing on the host reply'
}

/** fast-jwt's verifier options, plus @fastify/jwt's `key`: all applied by the verifier as given. */
const VERIFY_HONOURED = new Set([
  'algorithms', 'allowedAud', 'allowedCritHeaders', 'allowedIss', 'allowedJti', 'allowedNonce', 'allowedSub',
  'cache', 'cacheKeyBuilder', 'cacheTTL', 'checkTyp', 'clockTimestamp', 'clockTolerance', 'errorCacheTTL',
  'ignoreExpiration', 'ignoreNotBefore', 'key', 'maxAge', 'requiredClaims'
])

const VERIFY_REFUSED: Record<string, string> = {
  complete: 'isAdmin(payload, request) and trusted(request, payload) receive the payload, not the whole token',
  extractToken: 'admin tokens are read from the Authorization header only',
  onlyCookie: 'admin tokens are read from the Authorization header only'
}

const DECODE_HONOURED = new Set(['complete', 'checkTyp'])

/** What is wrong with `jwt`, as [option, problem, fix], or null. Pure. */
export function jwtOptionProblem (jwt: Record<string, unknown>): [string, string, string] | null {
  for (const name of Object.keys(jwt)) {
    if (Object.hasOwn(REFUSED, name)) return [`jwt.${name}`, `is not supported for admin tokens: ${REFUSED[name]}`, `Remove jwt.${name}.`]
    if (!HONOURED.has(name)) return [`jwt.${name}`, 'is not an @fastify/jwt option the plugin knows', `Remove it; the known ones are ${[...HONOURED].join(', ')}.`]
  }
  const nested = [['verify', VERIFY_HONOURED, VERIFY_REFUSED], ['decode', DECODE_HONOURED, {}]] as const
  for (const [group, honoured, refused] of nested) {
    const options = jwt[group]
    if (options === undefined) continue
    if (options === null || typeof options !== 'object') return [`jwt.${group}`, 'must be an object', `Pass @fastify/jwt ${group} options, or leave it out.`]
    for (const name of Object.keys(options)) {
      const reason = (refused as Record<string, string>)[name]
      if (reason !== undefined) return [`jwt.${group}.${name}`, `is not supported for admin tokens: ${reason}`, `Remove jwt.${group}.${name}.`]
      if (!honoured.has(name)) return [`jwt.${group}.${name}`, `is not a ${group} option of @fastify/jwt`, `Remove it or fix its spelling; the known ones are ${[...honoured].join(', ')}.`]
    }
  }
  if (jwt.trusted !== undefined && typeof jwt.trusted !== 'function') {
    return ['jwt.trusted', 'must be a function (request, payload) => boolean or Promise<boolean>', 'Pass a function, or leave it out.']
  }
  return null
}
