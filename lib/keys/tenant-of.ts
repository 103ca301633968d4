import type { FastifyRequest } from 'fastify'
import { isTenantId } from '../domain/names.js'
import type { ResolvedOptions } from '../options/options.js'

/** The tenant a request names (tenant mode), or null when it names none or a malformed id. */
export function tenantOf (settings: ResolvedOptions, request: FastifyRequest): string | null {
  const tenant = (settings.tenant as NonNullable<ResolvedOptions['tenant']>)(request)
  return isTenantId(tenant) ? tenant : null
}
