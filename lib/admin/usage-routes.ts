import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { AnonKeyProjectApi } from '../keys/api.js'
import { usageRouteSchemas } from './usage-schemas.js'

export interface UsageRoutesOptions {
  /** The project a request acts on (its tenant's, in tenant mode). */
  projectOf: (request: FastifyRequest) => AnonKeyProjectApi
}

/** The usage routes, inside the admin context (same guard and error format as the other admin routes). */
export async function usageRoutes (app: FastifyInstance, { projectOf }: UsageRoutesOptions): Promise<void> {
  app.get('/secrets/anon-key/usage', { schema: usageRouteSchemas.defaultKey }, async (request) => {
    return projectOf(request).usage()
  })

  app.get('/secrets/anon-keys/:name/usage', { schema: usageRouteSchemas.namedKey }, async (request) => {
    return projectOf(request).usage({ name: (request.params as { name: string }).name })
  })
}
