import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { AdminGuard } from './guard.js'
import type { AnonKeyProjectApi, AnonKeys } from '../keys/api.js'
import { tenantOf } from '../keys/tenant-of.js'
import { createErrorHandler } from './error-handler.js'
import { anonKeyError } from '../errors/codes.js'
import { refuseEmptyFingerprint } from './empty-fingerprint.js'
import { absentBodyAsEmptyObject, acceptJsonOrNothing } from './json-body.js'
import { documentAdminRoute } from './openapi.js'
import type { ResolvedOptions } from '../options/options.js'
import { ensureInitialized, type ProjectKeys, type RotateOptions } from '../keys/operations.js'
import { namedKeyRoutes } from './named-key-routes.js'
import { usageRoutes } from './usage-routes.js'
import { ErrorResponse, rotateBodySchema, routeSchemas } from './schemas.js'

export interface AdminRoutesOptions {
  api: AnonKeys
  guard: AdminGuard
  settings: ResolvedOptions
}

const actors = new WeakMap<FastifyRequest, string | null>()
const projects = new WeakMap<FastifyRequest, ProjectKeys>()

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
  if (settings.tenant !== null) {
    app.addHook('preHandler', async (request) => {
      const tenant = tenantOf(settings, request)
      if (tenant === null) {
        throw anonKeyError('NOT_FOUND', 'This request names no tenant, so it has no anon keys.', {
          nextActions: 'Name the tenant the way the tenant(request) option reads it (a header, the host name), with an id of 1 to 64 characters from [A-Za-z0-9._-].'
        })
      }
      const project = api.forTenant(tenant)
      if (settings.autoInitialize) await ensureInitialized(project)
      projects.set(request, project)
    })
  }
  const single = settings.tenant === null ? api : null
  const projectOf = (request: FastifyRequest): AnonKeyProjectApi => single ?? projects.get(request) as ProjectKeys
  const contextOf = (request: FastifyRequest) => ({ actor: actors.get(request) ?? null })

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
    refuseEmptyFingerprint(request, `${settings.prefix}/secrets/anon-key/previous`)
    return projectOf(request).revokePrevious(undefined, contextOf(request))
  })

  app.delete('/secrets/anon-key/previous/:fingerprint', { schema: routeSchemas.revokeOne }, async (request) => {
    const { fingerprint } = request.params as { fingerprint: string }
    return projectOf(request).revokePrevious(fingerprint, contextOf(request))
  })

  await app.register(namedKeyRoutes, { settings, projectOf, contextOf })
  await app.register(usageRoutes, { projectOf })
}
