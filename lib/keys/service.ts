import { EventEmitter } from 'node:events'
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import { isTenantId, SINGLE_PROJECT } from '../domain/names.js'
import { recordUsage } from '../domain/transitions.js'
import { UsageCounter } from '../domain/usage.js'
import { anonKeyError } from '../errors/codes.js'
import type { AnonKeyEvents } from './events.js'
import { KeyCache, type VerifyResult } from './project-keys.js'
import { retiredProblem } from '../domain/snapshot-check.js'
import type { AnonKeyInfo, PreviousKeyInfo } from './key-info.js'
import type { ResolvedOptions } from '../options/options.js'
import {
  ProjectApi, type ChangeContext, type CreateKeyOptions, type DeleteResult, type KeyContext, type ProjectHost, type RevokeResult,
  type RotateOptions, type RotateResult, type UpdateKeyOptions, type VerifyContext
} from './operations.js'
import { storeCall } from './store-call.js'
import type { ProjectSnapshot } from '../stores/interface.js'
import { TenantCache } from './tenant-cache.js'
import { createAttestation, type Attestation } from '../attestation/attestation.js'
import type { AttestationCheck } from '../domain/client-rules.js'

/** Every operation on the keys of one project: what `app.anonKey.forTenant(id)` returns. */
export interface AnonKeyProjectApi {
  /** The current key of `default`; null when there is none. */
  get (): Promise<string | null>
  /** Creates `default` unless the project has it already. */
  initialize (): Promise<{ created: boolean, anonKey: string }>
  /** Rotates `default`, or the key named in `options.name`. */
  rotate (options?: RotateOptions, context?: ChangeContext): Promise<RotateResult>
  /** Never throws: resolves to the key's identity or `{ valid: false, code }`. Origins are judged when given. */
  verify (key: unknown, context?: VerifyContext): Promise<VerifyResult>
  listPrevious (options?: { name?: string }): Promise<PreviousKeyInfo[]>
  revokePrevious (fingerprint?: string, context?: KeyContext): Promise<RevokeResult>
  listKeys (): Promise<AnonKeyInfo[]>
  getKey (name: string): Promise<AnonKeyInfo>
  createKey (options: CreateKeyOptions, context?: ChangeContext): Promise<AnonKeyInfo>
  updateKey (name: string, changes: UpdateKeyOptions, context?: ChangeContext): Promise<AnonKeyInfo>
  deleteKey (name: string, context?: ChangeContext): Promise<DeleteResult>
}

/**
 * A start-up failure says why (`no PostgreSQL user name specified`, `connect ECONNREFUSED`), for the person
 * reading the crash. Only at start-up: a 503 to an admin client never carries store details.
 */
function withCauseInMessage (error: unknown): unknown {
  const cause = (error as { cause?: unknown }).cause
  if (!(cause instanceof Error)) return error
  const reason = cause.message === '' ? String((cause as { code?: unknown }).code ?? cause.name) : cause.message
  return anonKeyError('STORE_UNAVAILABLE', `${(error as Error).message.replace(/\.$/, '')}: ${reason}`, { cause })
}

/**
 * `app.anonKey`: every operation on the keys, for scripts and other plugins, and the typed audit events
 * (`rotated`, `revoked`, `created`, `updated`, `deleted`). Without `tenant` it acts on the plugin's one project;
 * with `tenant`, `forTenant(id)` gives the same operations for one tenant.
 */
export interface AnonKeyApi extends AnonKeyProjectApi, EventEmitter<AnonKeyEvents> {
  /** The whole programmatic API for one tenant (tenant mode). */
  forTenant (tenant: string): AnonKeyProjectApi
}

/**
 * The plugin's keys in process, kept fresh from the store, and the API over them. What is not on AnonKeyApi
 * (the caches, start, stop, refresh) is internal: the hook and the routes reach it through the plugin.
 */
export class AnonKeyService extends EventEmitter<AnonKeyEvents> implements AnonKeyApi, ProjectHost {
  readonly options: ResolvedOptions
  readonly log: FastifyBaseLogger
  /** The single project's keys (without `tenant`). */
  readonly cache: KeyCache
  /** The tenants' keys (with `tenant`), or null. */
  readonly tenants: TenantCache<KeyCache> | null
  /** Bumped every cacheTtlMs in tenant mode: a tenant's keys loaded in an older epoch are reloaded on next use. */
  epoch = 0
  /** @internal The attestation check and its header, with the `attestation` option; else null. */
  readonly attestationChecker: Attestation | null
  /** @internal */
  readonly attestation: AttestationCheck | null
  private readonly single: ProjectApi
  private readonly usage = new Map<string, UsageCounter>()
  private readonly refreshing = new Map<string, { running: Promise<void>, again: boolean }>()
  private unsubscribe: (() => Promise<void>) | null = null
  private timer: NodeJS.Timeout | null = null
  private usageTimer: NodeJS.Timeout | null = null

  constructor (options: ResolvedOptions, log: FastifyBaseLogger) {
    // An async listener's rejection comes back to the captureRejectionSymbol method below, never unhandled.
    super({ captureRejections: true })
    this.options = options
    this.log = log
    this.attestationChecker = options.attestation === null ? null : createAttestation(options.attestation, log)
    this.attestation = this.attestationChecker?.check ?? null
    this.cache = new KeyCache(null, this.usageOf(SINGLE_PROJECT))
    this.single = new ProjectApi(this, SINGLE_PROJECT, null)
    this.tenants = options.tenant === null
      ? null
      : new TenantCache<KeyCache>({
        maxEntries: options.maxCachedTenants,
        maxEmptyEntries: options.maxCachedTenants,
        maxLoads: options.maxTenantLoads,
        isEmpty: (cache) => !cache.hasKeys,
        load: (tenant) => this.loadTenant(tenant)
      })
  }

  get (): Promise<string | null> { return this.project().get() }
  initialize (): Promise<{ created: boolean, anonKey: string }> { return this.project().initialize() }
  rotate (options?: RotateOptions, context?: ChangeContext): Promise<RotateResult> { return this.project().rotate(options, context) }
  verify (key: unknown, context?: VerifyContext): Promise<VerifyResult> { return this.project().verify(key, context) }
  listPrevious (options?: { name?: string }): Promise<PreviousKeyInfo[]> { return this.project().listPrevious(options) }
  revokePrevious (fingerprint?: string, context?: KeyContext): Promise<RevokeResult> { return this.project().revokePrevious(fingerprint, context) }
  listKeys (): Promise<AnonKeyInfo[]> { return this.project().listKeys() }
  getKey (name: string): Promise<AnonKeyInfo> { return this.project().getKey(name) }
  createKey (options: CreateKeyOptions, context?: ChangeContext): Promise<AnonKeyInfo> { return this.project().createKey(options, context) }
  updateKey (name: string, changes: UpdateKeyOptions, context?: ChangeContext): Promise<AnonKeyInfo> { return this.project().updateKey(name, changes, context) }
  deleteKey (name: string, context?: ChangeContext): Promise<DeleteResult> { return this.project().deleteKey(name, context) }

  forTenant (tenant: string): ProjectApi {
    if (this.tenants === null) {
      throw anonKeyError('INVALID_INPUT', 'forTenant() needs tenant mode: register the plugin with tenant(request). Without it, use app.anonKey directly.')
    }
    if (!isTenantId(tenant)) {
      throw anonKeyError('INVALID_INPUT', `A tenant id is 1 to 64 characters from [A-Za-z0-9._-], got ${JSON.stringify(tenant)?.slice(0, 80)}.`)
    }
    return new ProjectApi(this, tenant, tenant)
  }

  /** @internal The single project's operations (without `tenant`). */
  forProject (): ProjectApi {
    return this.project()
  }

  /** @internal The project a request names: its tenant's in tenant mode (null when it names none), else the single one. */
  tenantOf (request: FastifyRequest): string | null {
    const tenant = (this.options.tenant as NonNullable<ResolvedOptions['tenant']>)(request)
    return isTenantId(tenant) ? tenant : null
  }

  /** @internal Hands a snapshot the store returned to the cache of its project. */
  take (project: string, snapshot: ProjectSnapshot): void {
    if (this.tenants === null) {
      this.apply(this.cache, snapshot)
      return
    }
    const cached = this.tenants.get(project)
    const cache = cached ?? new KeyCache(project, this.usageOf(project))
    const hadKeys = cache.hasKeys
    this.apply(cache, snapshot)
    cache.epoch = this.epoch
    if (cached === undefined || hadKeys !== cache.hasKeys) this.tenants.set(project, cache)
  }

  /** @internal */
  cachedOf (project: string): KeyCache | undefined {
    return this.tenants === null ? this.cache : this.tenants.get(project)
  }

  /** @internal The project's cache; a tenant not held is loaded (one store call, shared by concurrent callers). */
  cacheOf (project: string): Promise<KeyCache> {
    const held = this.cachedOf(project)
    // Only a tenant can be not held: the single project's cache always is.
    return held === undefined ? (this.tenants as TenantCache<KeyCache>).load(project) : Promise.resolve(held)
  }

  /**
   * @internal Loads a project's retired keys into its cache, once per version of the project (see KeyCache):
   * only a well-formed key that the document does not know needs them. Never rejects; a failure is logged.
   */
  loadRetired (cache: KeyCache): Promise<void> {
    const project = cache.tenant ?? SINGLE_PROJECT
    return cache.loadRetired(async () => {
      try {
        const records = await this.call('loadRetired', () => this.options.store.loadRetired(project))
        const problem = retiredProblem(records)
        if (problem !== null) throw new TypeError(`malformed retired anon keys: ${problem}`)
        return records
      } catch (error) {
        this.log.warn({ err: error, project }, 'anon key store: retired keys not loaded; unknown keys answer AUTH_INVALID_CREDENTIALS until the next reload')
        throw error
      }
    })
  }

  /** @internal */
  usageOf (project: string): UsageCounter {
    let counter = this.usage.get(project)
    if (counter === undefined) {
      counter = new UsageCounter()
      this.usage.set(project, counter)
    }
    return counter
  }

  /** @internal Emits an audit event. The change has happened: a listener that throws is logged, never a failure. */
  announce<E extends keyof AnonKeyEvents> (event: E, payload: AnonKeyEvents[E][0]): void {
    try {
      (this.emit as (name: string, payload: unknown) => boolean)(event, payload)
    } catch (error) {
      this.log.error({ err: error }, `a listener of the anon key "${event}" event threw`)
    }
  }

  /** @internal Where EventEmitter hands the rejection of an async listener (captureRejections). */
  [EventEmitter.captureRejectionSymbol] (error: Error, name: unknown, ...args: unknown[]): void {
    this.log.error({ err: error }, `a listener of the anon key "${String(name)}" event rejected`)
  }

  /** @internal */
  call<T> (operation: string, run: (deadline: AbortSignal) => Promise<T>): Promise<T> {
    return storeCall(operation, this.options.storeTimeoutMs, run)
  }

  /**
   * Hands the previous-key usage counted in this process to the store, one batch per project (every
   * `usageFlushMs`, and on close). Counts that fail to reach the store are kept for the next batch.
   */
  async flushUsage (): Promise<void> {
    for (const [project, counter] of this.usage) {
      const reports = counter.take()
      if (reports.length === 0) {
        // A tenant's counter goes with the tenant once it is evicted and has nothing left to report.
        if (this.tenants !== null && !this.tenants.has(project)) this.usage.delete(project)
        continue
      }
      try {
        await this.call('recordUsage', () => this.options.store.update(project, (state) => recordUsage(state, reports)))
      } catch (error) {
        counter.giveBack(reports)
        this.log.warn({ err: error }, 'anon key usage figures not saved; will retry')
      }
    }
  }

  /** @internal Subscribes to changes, loads or creates the single project's key, starts the fallback reloads. */
  async start (): Promise<void> {
    try {
      this.unsubscribe = await this.call('subscribe', (deadline) => this.options.store.subscribe((project) => { this.heard(project) }, { log: this.log, deadline }))
      if (this.tenants === null) {
        if (this.options.autoInitialize) await this.initialize()
        else await this.refresh(SINGLE_PROJECT, true)
      }
    } catch (error) {
      throw withCauseInMessage(error)
    }
    this.timer = setInterval(() => {
      if (this.tenants === null) this.refresh(SINGLE_PROJECT)
      else this.epoch += 1
    }, this.options.cacheTtlMs)
    this.timer.unref()
    this.usageTimer = setInterval(() => { this.flushUsage() }, this.options.usageFlushMs)
    this.usageTimer.unref()
  }

  /** @internal */
  async stop (): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer)
    if (this.usageTimer !== null) clearInterval(this.usageTimer)
    this.timer = null
    this.usageTimer = null
    await this.flushUsage()
    const unsubscribe = this.unsubscribe
    this.unsubscribe = null
    // Bounded like every store call: a listening connection stuck on a dead network must not hang app.close().
    if (unsubscribe !== null) await this.call('unsubscribe', unsubscribe).catch((error: unknown) => this.log.warn({ err: error }, 'anon key store unsubscribe failed'))
  }

  /**
   * Reloads a project's keys from the store. Calls that arrive while a reload runs are folded into one more
   * reload after it, so the cache always ends on a snapshot taken after the last change it heard of.
   * In tenant mode only a cached tenant is reloaded. `strict` rejects instead of logging (start-up).
   */
  refresh (project: string = SINGLE_PROJECT, strict = false): Promise<void> {
    const running = this.refreshing.get(project)
    if (running !== undefined) {
      running.again = true
      return running.running
    }
    const entry = { running: this.reload(project, strict), again: false }
    this.refreshing.set(project, entry)
    entry.running = entry.running.finally(() => {
      this.refreshing.delete(project)
      if (entry.again) this.refresh(project)
    })
    return entry.running
  }

  /** A change notification: `null` means some may have been missed, so every project held is reloaded. */
  private heard (project: string | null): void {
    if (this.tenants === null) {
      if (project === null || project === SINGLE_PROJECT) this.refresh(SINGLE_PROJECT)
      return
    }
    if (project === null) {
      for (const tenant of this.tenants.tenants()) this.refresh(tenant)
    } else if (this.tenants.has(project)) {
      this.refresh(project)
    }
  }

  private async reload (project: string, strict: boolean): Promise<void> {
    try {
      this.take(project, await this.call('load', () => this.options.store.load(project)))
    } catch (error) {
      if (strict) throw error
      this.log.error({ err: error, project }, 'anon key store unreachable; verifying with the last known keys')
    }
  }

  private async loadTenant (tenant: string): Promise<KeyCache> {
    const snapshot = await this.call('load', () => this.options.store.load(tenant))
    const cache = new KeyCache(tenant, this.usageOf(tenant))
    this.apply(cache, snapshot)
    cache.epoch = this.epoch
    return cache
  }

  /** A malformed snapshot (a buggy adapter) changes nothing; the operation that read it answers STORE_UNAVAILABLE. */
  private apply (cache: KeyCache, snapshot: ProjectSnapshot): void {
    try {
      cache.apply(snapshot)
    } catch (error) {
      throw anonKeyError('STORE_UNAVAILABLE', 'The key store returned a malformed answer.', { cause: error })
    }
  }

  private project (): ProjectApi {
    if (this.tenants !== null) {
      throw anonKeyError('INVALID_INPUT', 'The plugin runs in tenant mode: use app.anonKey.forTenant(id) to act on one tenant\'s keys.')
    }
    return this.single
  }
}
