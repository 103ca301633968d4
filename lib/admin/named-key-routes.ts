import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { refuseEmptyFingerprint } from './empty-fingerprint.js'
import { absentBodyAsEmptyObject } from './json-body.js'
import type { AnonKeyProjectApi } from '../keys/api.js'
import type { ChangeContext, RotateOptions } from '../keys/operations.js'
import type { ResolvedOptions } from '../options/options.js'
import { rotateBodySchema } from './schemas.js'
import { namedKeyRouteSchemas as schemas, type CreateKeyInput, type UpdateKeyInput } from './named-key-schemas.js'

export interface NamedKeyRoutesOptions {
  settings: ResolvedOptions
  /** The project a request acts on (its tenant's, in tenant mode). */
  projectOf: (request: FastifyRequest) => AnonKeyProjectApi
  contextOf: (request: FastifyRequest) => ChangeContext
  /** Whether the request's path ends with a slash, which a host's ignoreTrailingSlash routes to the path without. */
}

type NameParams = { name: string }

/** Every answer that carries a whole key is kept out of caches (CONTRACT.md section 4). */
function noStore<T> (reply: FastifyReply, body: T): T {
  reply.header('cache-control', 'no-store')
  return body
}

/**
 * The named-key routes of CONTRACT.md section 9, registered inside the admin context (same guard, validator,
 * body parser and error handler as the seed's routes). The rotate and previous-key routes behave exactly as
 * the seed's, for the key named in the path.
 */
export async function namedKeyRoutes (app: FastifyInstance, { settings, projectOf, contextOf }: NamedKeyRoutesOptions): Promise<void> {
  app.get('/secrets/anon-keys', { schema: schemas.list }, async (request, reply) => {
    return noStore(reply, { anonKeys: await projectOf(request).listKeys() })
  })

  app.post('/secrets/anon-keys', { schema: schemas.create }, async (request, reply) => {
    const created = await projectOf(request).createKey(request.body as CreateKeyInput, contextOf(request))
    reply.code(201)
    return noStore(reply, created)
  })

  app.get('/secrets/anon-keys/:name', { schema: schemas.get }, async (request, reply) => {
    return noStore(reply, await projectOf(request).getKey((request.params as NameParams).name))
  })

  app.patch('/secrets/anon-keys/:name', { schema: schemas.update }, async (request, reply) => {
    const { name } = request.params as NameParams
    return noStore(reply, await projectOf(request).updateKey(name, request.body as UpdateKeyInput, contextOf(request)))
  })

  app.delete('/secrets/anon-keys/:name', { schema: schemas.delete }, async (request) => {
    return projectOf(request).deleteKey((request.params as NameParams).name, contextOf(request))
  })

  app.post('/secrets/anon-keys/:name/rotate', {
    schema: { ...schemas.rotate, body: rotateBodySchema(settings.maxGracePeriodHours, settings.defaultGracePeriodHours) },
    preValidation: absentBodyAsEmptyObject
  }, async (request, reply) => {
    const { gracePeriodHours, graceStartsAt } = request.body as RotateOptions
    const { name } = request.params as NameParams
    return noStore(reply, await projectOf(request).rotate({ gracePeriodHours, graceStartsAt, name }, contextOf(request)))
  })

  app.get('/secrets/anon-keys/:name/previous', { schema: schemas.listPrevious }, async (request) => {
    return { previousKeys: await projectOf(request).listPrevious({ name: (request.params as NameParams).name }) }
  })

  app.delete('/secrets/anon-keys/:name/previous', { schema: schemas.revokeAll }, async (request) => {
    const { name } = request.params as NameParams
    refuseEmptyFingerprint(request, `${settings.prefix}/secrets/anon-keys/${name}/previous`)
    return projectOf(request).revokePrevious(undefined, { ...contextOf(request), name })
  })

  app.delete('/secrets/anon-keys/:name/previous/:fingerprint', { schema: schemas.revokeOne }, async (request) => {
    const { name, fingerprint } = request.params as NameParams & { fingerprint: string }
    return projectOf(request).revokePrevious(fingerprint, { ...contextOf(request), name })
  })
}
