import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { AdminGuard } from './guard.js'
import type { AnonKeyService } from '../keys/service.js'
import { createErrorHandler } from './error-handler.js'
import { anonKeyError } from '../errors/codes.js'
import { absentBodyAsEmptyObject, acceptJsonOrNothing } from './json-body.js'
import { documentAdminRoute } from './openapi.js'
import type { ResolvedOptions } from '../options/options.js'
import type { ProjectApi, RotateOptions } from '../keys/operations.js'
import { namedKeyRoutes } from './named-key-routes.js'
import { usageRoutes } from './usage-routes.js'
import { ErrorResponse, rotateBodySchema, routeSchemas } from './schemas.js'

export interface AdminRoutesOptions {
  api: AnonKeyService
  guard: AdminGuard
  settings: ResolvedOptions
}

/** The path of a request URL, without what a router may read as a query (`?`, or `;` with useSemicolonDelimiter). */
const pathOf = (url: string): string => url.split(/[?;#]/, 1)[0]

const actors = new WeakMap<FastifyRequest, string | null>()
const projects = new WeakMap<FastifyRequest, ProjectApi>()

/**
 * The admin routes, registered in their own encapsulated context: their validator (no coercion, no stripping
 * of unknown properties), body parser, auth hook and error handler apply here and nowhere in the host.
 * Every route acts on one project: the plugin's, or in tenant mode the tenant the request names (404 when it
 * names none; its `default` key is created on its first admin request when autoInitialize is on).
 */
export async function adminRoutes (app: FastifyInstance, { api, guard, settings }: AdminRoutesOptions): Promise<void> {
  app.setValidatorCompiler(TypeBoxValidatorCompiler)
  app.setErrorHandler(createErrorHandler(settings.maxGracePeriodHours))
  app.addSchema(ErrorResponse)
  // @fastify/swagger (when the host uses it) documents these routes with this transform; typed loosely so that
  // the package's types never require @fastify/swagger.
  app.addHook('onRoute', (route) => { route.config = { ...route.config, swaggerTransform: documentAdminRoute } as unknown as typeof route.config })
  acceptJsonOrNothing(app, settings.bodyLimit)
  app.addHook('onRequest', async (request) => {
    actors.set(request, (await guard(request)).actor)
  })
  if (api.tenants !== null) {
    app.addHook('preHandler', async (request) => {
      const tenant = api.tenantOf(request)
      if (tenant === null) {
        throw anonKeyError('NOT_FOUND', 'This request names no tenant, so it has no anon keys.')
      }
      const project = api.forTenant(tenant)
      if (settings.autoInitialize) await project.ensureInitialized()
      projects.set(request, project)
    })
  }
  const single = api.tenants === null ? api.forProject() : null
  const projectOf = (request: FastifyRequest): ProjectApi => single ?? projects.get(request) as ProjectApi
  const contextOf = (request: FastifyRequest) => ({ actor: actors.get(request) ?? null })
  const endsWithSlash = (request: FastifyRequest): boolean => pathOf(request.url).endsWith('/')

  app.get('/metadata/anon-key', { schema: routeSchemas.getAnonKey }, async (request, reply) => {
    const anonKey = await projectOf(request).get()
    if (anonKey === null) {
      throw anonKeyError('ANON_KEY_NOT_INITIALIZED', 'The store holds no anon key yet.')
    }
    reply.header('cache-control', 'no-store')
    return { anonKey }
  })

  app.post('/secrets/anon-key/rotate', {
    schema: { ...routeSchemas.rotate, body: rotateBodySchema(settings.maxGracePeriodHours, settings.defaultGracePeriodHours) },
    preValidation: absentBodyAsEmptyObject
  }, async (request, reply) => {
    const { gracePeriodHours, graceStartsAt } = request.body as RotateOptions
    const result = await projectOf(request).rotate({ gracePeriodHours, graceStartsAt }, contextOf(request))
    reply.header('cache-control', 'no-store')
    return result
  })

  app.get('/secrets/anon-key/previous', { schema: routeSchemas.listPrevious }, async (request) => {
    return { previousKeys: await projectOf(request).listPrevious() }
  })

  app.delete('/secrets/anon-key/previous', { schema: routeSchemas.revokeAll }, async (request) => {
    // A host's ignoreTrailingSlash routes ".../previous/" here: an empty fingerprint, a client's bug, never "all".
    if (endsWithSlash(request)) {
      throw anonKeyError('INVALID_INPUT', 'The fingerprint is empty. To revoke every previous key, send DELETE to the path without a trailing slash.', {
        nextActions: 'Name a fingerprint listed by GET /api/secrets/anon-key/previous, or DELETE /api/secrets/anon-key/previous (no trailing slash) to revoke them all.'
      })
    }
    return projectOf(request).revokePrevious(undefined, contextOf(request))
  })

  app.delete('/secrets/anon-key/previous/:fingerprint', { schema: routeSchemas.revokeOne }, async (request) => {
    const { fingerprint } = request.params as { fingerprint: string }
    return projectOf(request).revokePrevious(fingerprint, contextOf(request))
  })

  await app.register(namedKeyRoutes, { settings, projectOf, contextOf, endsWithSlash })
  await app.register(usageRoutes, { projectOf })
}
