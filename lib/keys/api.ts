import { EventEmitter } from 'node:events'
import { isTenantId, SINGLE_PROJECT } from '../domain/names.js'
import { anonKeyError } from '../errors/codes.js'
import type { AttestationCheck } from '../domain/client-rules.js'
import type { AnonKeyEvents } from './events.js'
import type { Mirror } from './mirror.js'
import { aim, KeyOperations, ProjectKeys, recordFirstUse, tenantModeError, type Announce } from './operations.js'

/** Where the plugin's mirror hangs on `app.anonKey`, for the plugin's own tests; not part of the API. */
export const MIRROR = Symbol('fastify-anon-key.mirror')

const Emitter = EventEmitter as new (options?: { captureRejections?: boolean }) => EventEmitter<AnonKeyEvents>

/**
 * `app.anonKey`: every operation on the keys, for scripts and other plugins, and the typed audit events
 * (`rotated`, `revoked`, `created`, `updated`, `deleted`, `firstUsed`). Without `tenant` it acts on the plugin's one project;
 * with `tenant`, `forTenant(id)` gives the same operations for one tenant.
 */
export class AnonKeys extends KeyOperations(Emitter) {
  readonly [MIRROR]: Mirror

  private readonly attest: AttestationCheck | null

  constructor (mirror: Mirror, attest: AttestationCheck | null) {
    // An async listener's rejection comes back to the captureRejectionSymbol method below, never unhandled.
    super({ captureRejections: true })
    this[MIRROR] = mirror
    this.attest = attest
    mirror.onFirstUse = (project, entry, at) => { recordFirstUse({ mirror, project, announce: this.announce, attest }, entry, at) }
    if (mirror.tenants === null) {
      aim(this, { mirror, project: SINGLE_PROJECT, announce: this.announce, attest })
    } else {
      // In tenant mode the operations belong to forTenant(id): here they throw at once, not as a rejection.
      for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(ProjectKeys.prototype))) {
        if (name !== 'constructor') Object.defineProperty(this, name, { value: () => { throw tenantModeError() } })
      }
    }
  }

  /** The operations on one tenant's keys (tenant mode). */
  forTenant (tenant: string): AnonKeyProjectApi {
    const mirror = this[MIRROR]
    if (mirror.tenants === null) {
      throw anonKeyError('INVALID_INPUT', 'forTenant() needs tenant mode: register the plugin with tenant(request). Without it, use app.anonKey directly.', {
        nextActions: 'Call the operations on app.anonKey itself, or register the plugin with a tenant(request) option.'
      })
    }
    if (!isTenantId(tenant)) {
      throw anonKeyError('INVALID_INPUT', `A tenant id is 1 to 64 characters from [A-Za-z0-9._-], got ${JSON.stringify(tenant)?.slice(0, 80)}.`, {
        nextActions: 'Pass the tenant id your tenant(request) resolver returns for the tenant.'
      })
    }
    return new ProjectKeys({ mirror, project: tenant, announce: this.announce, attest: this.attest })
  }

  /** Emits an audit event. The change has happened: a listener that throws is logged, never a failure. */
  private readonly announce: Announce = (event, payload) => {
    try {
      (this.emit as (name: string, payload: unknown) => boolean)(event, payload)
    } catch (error) {
      this[MIRROR].log.error({ err: error }, `a listener of the anon key "${event}" event threw`)
    }
  };

  /** Where EventEmitter hands the rejection of an async listener (captureRejections). */
  [EventEmitter.captureRejectionSymbol] (error: Error, name: unknown, ...args: unknown[]): void {
    this[MIRROR].log.error({ err: error }, `a listener of the anon key "${String(name)}" event rejected`)
  }
}

/** Every operation on the keys of one project: what `app.anonKey.forTenant(id)` returns. */
export type AnonKeyProjectApi = ProjectKeys

/** The type of `app.anonKey`. */
export type AnonKeyApi = Omit<AnonKeys, typeof MIRROR>
