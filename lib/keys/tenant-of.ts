import type { FastifyRequest } from 'fastify'
import { isTenantId } from '../domain/names.js'
import type { ResolvedOptions } from '../options/options.js'
import { isPromiseLike, promiseFromResolver } from './tenant-resolver.js'

/**
 * The tenant a request names (tenant mode), or null when it names none or a malformed id. A resolver that answers
 * with a promise is the host's mistake: it throws, and the admin routes answer 500 and log it.
 */
export function tenantOf (settings: ResolvedOptions, request: FastifyRequest): string | null {
  const resolver = settings.tenant as NonNullable<ResolvedOptions['tenant']>
  const tenant: unknown = resolver(request)
  if (isPromiseLike(tenant)) throw promiseFromResolver(resolver, tenant)
  return isTenantId(tenant) ? tenant : null
}
