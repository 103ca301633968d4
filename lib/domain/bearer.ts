const SCHEME_LENGTH = 6 // "Bearer"

/**
 * The token of an `Authorization: Bearer <token>` value, or undefined: the scheme in any case, one space, then
 * the rest of the value, which must not be empty. The one parser of the plugin: verifyAnonKey and the admin
 * guard read credentials the same way. The query string is never read.
 */
export function bearerToken (header: unknown): string | undefined {
  if (typeof header !== 'string' || header.length <= SCHEME_LENGTH + 1 || header.charCodeAt(SCHEME_LENGTH) !== 32) return undefined
  const scheme = header.slice(0, SCHEME_LENGTH)
  return scheme === 'Bearer' || scheme.toLowerCase() === 'bearer' ? header.slice(SCHEME_LENGTH + 1) : undefined
}
