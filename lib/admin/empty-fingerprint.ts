import type { FastifyRequest } from 'fastify'
import { anonKeyError } from '../errors/codes.js'

/** The path of a request URL, without what a router may read as a query (`?`, or `;` with useSemicolonDelimiter). */
const pathOf = (url: string): string => url.split(/[?;#]/, 1)[0]

/**
 * A host's ignoreTrailingSlash routes "DELETE …/previous/" to the route that revokes every previous key: an empty
 * fingerprint, a client's bug, never "all". Throws INVALID_INPUT for it; `listPath` is where the fingerprints are.
 */
export function refuseEmptyFingerprint (request: FastifyRequest, listPath: string): void {
  if (!pathOf(request.url).endsWith('/')) return
  throw anonKeyError('INVALID_INPUT', 'The fingerprint is empty. To revoke every previous key, send DELETE to the path without a trailing slash.', {
    nextActions: `Name a fingerprint listed by GET ${listPath}, or DELETE ${listPath} (no trailing slash) to revoke them all.`
  })
}
