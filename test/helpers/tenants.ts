import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import anonKey, { type FastifyAnonKeyOptions } from '../../lib/index.js'
import { adminToken, JWT_SECRET } from './app.js'

/** The tenant a request names: its x-tenant header. */
export const tenantFromHeader = (request: FastifyRequest): string | undefined => request.headers['x-tenant'] as string | undefined

/** An admin of one tenant: the token's `tenant` claim must be the tenant the request names. */
export const isTenantAdmin = (payload: any, request: FastifyRequest): boolean =>
  payload?.role === 'project_admin' && payload.tenant === tenantFromHeader(request)

/** Headers of an admin request for `tenant`, signed as an admin of `adminOf` (the same tenant by default). */
export function tenantAdminHeaders (tenant: string, adminOf = tenant): Record<string, string> {
  return { 'x-tenant': tenant, authorization: `Bearer ${adminToken({ tenant: adminOf })}` }
}

/** An app in tenant mode (tenant from x-tenant, admins by their token's tenant claim) with /data guarded. */
export async function startTenantApp (t: { teardown: (fn: () => unknown) => void }, options: FastifyAnonKeyOptions = {}): Promise<FastifyInstance> {
  const app = Fastify()
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, tenant: tenantFromHeader, isAdmin: isTenantAdmin, ...options })
  app.register(async (guarded) => {
    guarded.addHook('onRequest', guarded.verifyAnonKey)
    guarded.get('/data', async (request) => ({ anonKey: request.anonKey }))
  })
  t.teardown(() => app.close())
  await app.ready()
  return app
}

/** GET /data as `tenant` with this key. */
export async function useTenantKey (app: FastifyInstance, tenant: string | undefined, key: string, headers: Record<string, string> = {}) {
  return app.inject({ url: '/data', headers: { ...(tenant === undefined ? {} : { 'x-tenant': tenant }), authorization: `Bearer ${key}`, ...headers } })
}
