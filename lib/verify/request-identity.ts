import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { AnonKeyIdentity } from '../keys/project-keys.js'

/** Where verifyAnonKey leaves the identity of a verified request. */
export const IDENTITY = Symbol('fastify-anon-key.identity')

type WithIdentity = FastifyRequest & { [IDENTITY]?: Readonly<AnonKeyIdentity> | null }

/**
 * Declares `request.anonKey` as an accessor on the request prototype, null until verifyAnonKey sets it.
 *
 * Not `decorateRequest('anonKey', null)`: Fastify copies every such value onto every request it builds, on every
 * route, guarded or not, and that copy alone cost more than the whole hook (issue 10). The accessor costs nothing
 * on requests that never read it; the hook writes the identity once, on the requests it lets through.
 */
export function declareRequestIdentity (app: FastifyInstance): void {
  app.decorateRequest('anonKey', {
    getter (this: WithIdentity) { return this[IDENTITY] ?? null },
    setter (this: WithIdentity, identity: Readonly<AnonKeyIdentity> | null) { this[IDENTITY] = identity }
  })
}

export function setIdentity (request: FastifyRequest, identity: Readonly<AnonKeyIdentity>): void {
  (request as WithIdentity)[IDENTITY] = identity
}
