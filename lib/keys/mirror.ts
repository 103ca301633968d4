import type { FastifyBaseLogger } from 'fastify'
import { SINGLE_PROJECT } from '../domain/names.js'
import type { ProjectState } from '../domain/project.js'
import { sameWrite, withNewRevision } from '../domain/revision.js'
import { retiredProblem } from '../domain/snapshot-check.js'
import { recordUsage, type StateChange } from '../domain/transitions.js'
import { UsageCounter } from '../domain/usage.js'
import { historyStart, isEmptyUsage, REFUSED_USAGE_CODES, type RefusedUsageCode } from '../domain/usage-history.js'
import { RETIRED_RETENTION_MS } from '../domain/retention.js'
import { HOUR_MS } from '../domain/time.js'
import { anonKeyError } from '../errors/codes.js'
import type { AnonKeyMetrics } from '../metrics/metrics.js'
import type { ResolvedOptions } from '../options/options.js'
import type { HeardChange, ProjectSnapshot } from '../stores/interface.js'
import { storeKind } from '../stores/kind.js'
import { KeyCache, type UseCounter, type ValidEntry } from './project-keys.js'
import { storeCall } from './store-call.js'
import { TenantCache, TenantLoadsExhausted } from './tenant-cache.js'
import { TtlFallback } from './ttl-fallback.js'

/** How many of its own writes an instance recognises in the notifications it hears. */
const OWN_WRITES_KEPT = 64

/** The epoch of a cache to reload on its next use, whatever the current epoch (never one, which starts at 0). */
const STALE = -1

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

/** Reports the first verification of a rotated-in key (see operations' recordFirstUse). */
export type FirstUseListener = (project: string, entry: ValidEntry, at: number) => void

/** A change notification heard while this instance was writing the same project: judged once the write is held. */
interface WriteInFlight {
  writes: number
  heard: Array<HeardChange | undefined>
}

/** The refusals the usage history counts by key. */
function isCountedRefusal (code: string): code is RefusedUsageCode {
  return (REFUSED_USAGE_CODES as readonly string[]).includes(code)
}

/**
 * The plugin's copy of the store, in process: the single project's keys or the tenants' (bounded), kept fresh
 * from the store's notifications and its catch-up poll, every `cacheTtlMs` when no poll works, and the usage
 * counted by verification until it is flushed (put in its hour at every hour's end and every flush, handed to the
 * store every `usageFlushMs`). Every reader (verifyAnonKey, `verify()`, the operations) gets a project's keys
 * through `held` or `cacheOf`, which apply the one freshness rule.
 *
 * What costs the store is bounded by changes, not by tenants: when every held cache may be stale at once (a lost
 * listening connection, a `cacheTtlMs` tick), each is only marked so, and reloaded on its next use; reloads of
 * tenants, like their cold loads, stay within `maxTenantLoads`; a failing reload is logged once until one works.
 *
 * The store is the truth. A snapshot replaces the one held unless it is the same write (version and revision),
 * or an older read overtaken by a newer one: each read takes a ticket when it starts (a write when it is
 * answered), and a snapshot whose version is not higher is taken only from a read that started after the one
 * held. So a store restored from a backup, whose version went back, is taken; a load that started before a
 * rotation and answers after it is not.
 */
export class Mirror {
  readonly options: ResolvedOptions
  readonly log: FastifyBaseLogger
  /** The single project's keys; null in tenant mode. */
  readonly single: KeyCache | null
  /** The tenants' keys; null without tenants. */
  readonly tenants: TenantCache<KeyCache> | null
  /** Bumped when every held cache may be stale (see markStale): a cache of an older epoch is reloaded on its next use. */
  private epoch = 0
  private readonly ttl = new TtlFallback()
  /** The caches whose last reload failed: marked stale at the next `cacheTtlMs` tick, so that it is tried again. */
  private readonly failed = new Set<KeyCache>()
  /** Background reloads that failed since the last one that worked: the first is logged, the others counted. */
  private failedReloads = 0
  private nextTicket = 0
  /** The OpenTelemetry instruments, or null when nothing is recorded. */
  readonly metrics: AnonKeyMetrics | null
  /** Told of the first verification of a rotated-in key (set by `app.anonKey`). */
  onFirstUse: FirstUseListener | null = null
  /** Usage per project; a project gets a counter only when one of its keys verifies or a known key is refused. */
  private readonly usage = new Map<string, UsageCounter>()
  private readonly refreshing = new Map<string, { running: Promise<void>, again: boolean }>()
  private readonly writing = new Map<string, WriteInFlight>()
  /** This instance's last writes, as `project version revision`: their notifications, however late, cost nothing. */
  private readonly ownWrites = new Set<string>()
  private unsubscribe: (() => Promise<void>) | null = null
  private timers: NodeJS.Timeout[] = []
  private hourTimer: NodeJS.Timeout | null = null
  private readonly storeKind: string

  constructor (options: ResolvedOptions, log: FastifyBaseLogger, metrics: AnonKeyMetrics | null = null) {
    this.options = options
    this.log = log
    this.metrics = metrics
    this.storeKind = storeKind(options.store)
    this.single = options.tenant === null ? this.newCache(SINGLE_PROJECT) : null
    this.tenants = options.tenant === null
      ? null
      : new TenantCache<KeyCache>({
        maxEntries: options.maxCachedTenants,
        maxEmptyEntries: options.maxCachedTenants,
        maxLoads: options.maxTenantLoads,
        isEmpty: (cache) => !cache.hasKeys,
        load: (tenant) => this.loadTenant(tenant)
      })
    const tenants = this.tenants
    if (tenants !== null) metrics?.observeTenants(() => tenants.size)
  }

  /**
   * The project's keys if they are held, else undefined; never waits for the store. The freshness rule: keys
   * held since before every cache was last marked stale (see markStale), or marked stale alone, are reloaded now,
   * in the background, once (a tenant beyond `maxTenantLoads` on a later use).
   */
  held (project: string): KeyCache | undefined {
    const cache = this.cached(project)
    if (cache !== undefined && cache.epoch !== this.epoch) {
      // Marked before the reload, so that a store that is down is tried once per tick, not on every request.
      cache.epoch = this.epoch
      this.refresh(project)
    }
    return cache
  }

  /** The project's keys; a tenant not held is loaded (one store call, shared by concurrent callers). */
  cacheOf (project: string): Promise<KeyCache> {
    const held = this.held(project)
    if (held !== undefined) return Promise.resolve(held)
    return (this.tenants as TenantCache<KeyCache>).load(project).catch((error: unknown) => {
      if (!(error instanceof TenantLoadsExhausted)) throw error
      const unavailable = anonKeyError('STORE_UNAVAILABLE', error.message, { cause: error }) as Error & { headers?: Record<string, string> }
      unavailable.headers = { 'retry-after': '1' }
      throw unavailable
    })
  }

  /** Loads a project's retired keys into its cache, once per version of the project; never rejects. */
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

  /** The usage this instance counted for a project and has not flushed yet, if any. */
  unreported (project: string): UsageCounter | undefined {
    return this.usage.get(project)
  }

  /** Reads the project's document from the store, and holds it. */
  async read (project: string): Promise<ProjectSnapshot> {
    const ticket = this.nextTicket++
    const epoch = this.epoch
    const snapshot = await this.call('load', () => this.options.store.load(project))
    this.take(project, snapshot, ticket, epoch)
    return snapshot
  }

  /**
   * One atomic change of the project's document through the store, with a new revision. The answer is held as
   * it is: the writer never reads its own write back, and skips the notification of it.
   */
  async write<T> (operation: string, project: string, transition: (state: ProjectState) => StateChange<T>): Promise<{ snapshot: ProjectSnapshot, result: T }> {
    const inFlight = this.writing.get(project) ?? { writes: 0, heard: [] }
    inFlight.writes += 1
    this.writing.set(project, inFlight)
    try {
      const epoch = this.epoch
      const answer = await this.call(operation, () => this.options.store.update(project, withNewRevision(transition)))
      this.take(project, answer.snapshot, this.nextTicket++, epoch)
      this.ownWrites.add(`${project} ${answer.snapshot.version} ${answer.snapshot.state.revision}`)
      if (this.ownWrites.size > OWN_WRITES_KEPT) this.ownWrites.delete(this.ownWrites.values().next().value as string)
      return answer
    } finally {
      inFlight.writes -= 1
      if (inFlight.writes === 0) {
        this.writing.delete(project)
        for (const change of inFlight.heard) this.heard(project, change)
      }
    }
  }

  /** Bounded like every store call: STORE_UNAVAILABLE after storeTimeoutMs, never a hang. Timed when metrics are recorded. */
  call<T> (operation: string, run: (deadline: AbortSignal) => Promise<T>): Promise<T> {
    const metrics = this.metrics
    if (metrics === null) return storeCall(operation, this.options.storeTimeoutMs, run)
    const started = performance.now()
    const measured = (failed: boolean): void => { metrics.storeCall(operation, this.storeKind, (performance.now() - started) / 1000, failed) }
    return storeCall(operation, this.options.storeTimeoutMs, run).then((value) => {
      measured(false)
      return value
    }, (error: unknown) => {
      measured(true)
      throw error
    })
  }

  /**
   * Reloads a project's keys from the store. Calls that arrive while a reload runs are folded into one more
   * reload after it, so the cache always ends on a snapshot taken after the last change it heard of.
   * In tenant mode only a cached tenant is reloaded (one evicted meanwhile is not brought back), within
   * `maxTenantLoads`: beyond it, the tenant keeps its keys and is reloaded on a later use. `strict` rejects
   * instead of logging (start-up).
   */
  refresh (project: string = SINGLE_PROJECT, strict = false): Promise<void> {
    const running = this.refreshing.get(project)
    if (running !== undefined) {
      running.again = true
      return running.running
    }
    const cache = this.cached(project)
    if (cache === undefined) return Promise.resolve()
    const reload = this.tenants === null ? this.reload(project, cache, strict) : this.tenants.withinLoads(() => this.reload(project, cache, strict))
    if (reload === null) {
      cache.epoch = STALE
      return Promise.resolve()
    }
    const entry = { running: reload, again: false }
    this.refreshing.set(project, entry)
    entry.running = entry.running.finally(() => {
      this.refreshing.delete(project)
      if (entry.again) this.refresh(project)
    })
    return entry.running
  }

  /**
   * Closes the usage counted since the last close into the hour of `at` (see UsageCounter.close): at every
   * hour's end, and when the usage is flushed, so that a request costs one increment and no clock read.
   */
  closeUsage (at: number): void {
    this.metrics?.taking()
    for (const counter of this.usage.values()) counter.close(at)
  }

  /**
   * Hands the usage counted in this process to the store, one batch per project (every `usageFlushMs`, and on
   * close): to its usage history when it keeps one, else the previous keys' totals to the document. Counts that
   * fail to reach the store are kept for the next batch. A project's counter goes once it has nothing left.
   */
  async flushUsage (): Promise<void> {
    const now = Date.now()
    this.closeUsage(now)
    const store = this.options.store
    // Every counter is taken before the first await, so that no count made meanwhile is taken unseen.
    const batches = [...this.usage].map(([project, counter]) => ({ project, taken: counter.take(now) }))
    for (const { project, taken } of batches) {
      if (isEmptyUsage(taken.history)) this.usage.delete(project)
    }
    for (const { project, taken } of batches) {
      if (isEmptyUsage(taken.history)) continue
      try {
        if (store.recordUsage !== undefined) {
          const batch = { ...taken.history, keepHoursFrom: historyStart(now), keepKeysFrom: now - RETIRED_RETENTION_MS }
          await this.call('recordUsage', () => (store.recordUsage as NonNullable<typeof store.recordUsage>)(project, batch))
        } else if (taken.reports.length > 0) {
          await this.write('recordUsage', project, (state) => recordUsage(state, taken.reports))
        }
      } catch (error) {
        // To the project's counter of now: another flush may have let the one taken go meanwhile.
        this.counterOf(project).giveBack(taken)
        this.log.warn({ err: error, project }, 'anon key usage figures not saved; will retry')
      }
    }
  }

  /** Subscribes to changes, then loads the single project (`initialize` creates it first when given). */
  async start (initialize: (() => Promise<unknown>) | null): Promise<void> {
    try {
      const onPoll = (): void => { this.ttl.heardPoll() }
      this.unsubscribe = await this.call('subscribe', (deadline) => this.options.store.subscribe((project, change) => { this.heard(project, change) }, { log: this.log, deadline, onPoll }))
      if (this.single !== null) {
        if (initialize !== null) await initialize()
        else await this.refresh(SINGLE_PROJECT, true)
      }
    } catch (error) {
      throw withCauseInMessage(error)
    }
    const every = (ms: number, run: () => void): void => {
      const timer = setInterval(run, ms)
      timer.unref()
      this.timers.push(timer)
    }
    every(this.options.cacheTtlMs, () => {
      // While the store's poll works, it brings every change: the age of a cache alone reloads nothing.
      if (this.ttl.due()) {
        this.markStale()
        return
      }
      for (const cache of this.failed) cache.epoch = STALE
      this.failed.clear()
      if (this.single !== null) this.held(SINGLE_PROJECT)
    })
    every(this.options.usageFlushMs, () => { this.flushUsage() })
    this.closeAtHourEnd()
  }

  async stop (): Promise<void> {
    for (const timer of this.timers) clearInterval(timer)
    this.timers = []
    if (this.hourTimer !== null) clearTimeout(this.hourTimer)
    this.hourTimer = null
    await this.flushUsage()
    const unsubscribe = this.unsubscribe
    this.unsubscribe = null
    // Bounded like every store call: a listening connection stuck on a dead network must not hang app.close().
    if (unsubscribe !== null) await this.call('unsubscribe', unsubscribe).catch((error: unknown) => this.log.warn({ err: error }, 'anon key store unsubscribe failed'))
  }

  /**
   * A change notification. `null` means some may have been missed (a lost listening connection): the store's
   * poll brings them, and every project held is stale meanwhile, reloaded on its next use; never all at once,
   * which with thousands of tenants held would be thousands of loads for a few changes. One that names the
   * version and revision held is a change this instance holds already (its own write, or a reload that came
   * first), and costs nothing.
   */
  private heard (project: string | null, change?: HeardChange): void {
    if (project === null) {
      this.markStale()
      return
    }
    const cache = this.cached(project)
    if (cache === undefined) return
    const writing = this.writing.get(project)
    if (writing !== undefined) {
      writing.heard.push(change)
      return
    }
    if (change !== undefined) {
      if (sameWrite(cache, { version: change.version, revision: change.revision ?? cache.revision })) return
      if (this.ownWrites.has(`${project} ${change.version} ${change.revision}`)) return
    }
    this.refresh(project)
  }

  /** Every held cache is stale from now on: reloaded on its next use, the single project (always in use) at once. */
  private markStale (): void {
    this.epoch += 1
    this.failed.clear()
    if (this.single !== null) this.held(SINGLE_PROJECT)
  }

  /** At the end of every hour, the usage counted in it is closed into it (see closeUsage). */
  private closeAtHourEnd (): void {
    const now = Date.now()
    const end = now - (now % HOUR_MS) + HOUR_MS
    this.hourTimer = setTimeout(() => {
      this.closeUsage(end - 1)
      this.closeAtHourEnd()
    }, end - now)
    this.hourTimer.unref()
  }

  private async reload (project: string, cache: KeyCache, strict: boolean): Promise<void> {
    try {
      const held = cache.version
      const snapshot = await this.read(project)
      const changedAt = snapshot.state.changedAt
      // How long a change written elsewhere took to reach this instance's cache.
      if (this.metrics !== null && typeof changedAt === 'number' && held < snapshot.version) {
        this.metrics.propagated(Math.max(0, Date.now() - changedAt) / 1000)
      }
    } catch (error) {
      if (strict) throw error
      this.failed.add(cache)
      // Once until a reload works again: an outage fails the reload of every tenant used meanwhile.
      if (this.failedReloads === 0) this.log.error({ err: error, project }, 'anon key store unreachable; verifying with the last known keys')
      this.failedReloads += 1
      return
    }
    this.failed.delete(cache)
    if (this.failedReloads > 0) {
      this.log.info({ failedReloads: this.failedReloads }, `anon key store reachable again, after ${this.failedReloads} failed reloads`)
      this.failedReloads = 0
    }
  }

  private async loadTenant (tenant: string): Promise<KeyCache> {
    const ticket = this.nextTicket++
    const epoch = this.epoch
    const snapshot = await this.call('load', () => this.options.store.load(tenant))
    const cache = this.newCache(tenant)
    this.takeInto(cache, tenant, snapshot, ticket, epoch)
    return cache
  }

  /** The project's keys if held, without the freshness rule. */
  private cached (project: string): KeyCache | undefined {
    return this.single === null ? (this.tenants as TenantCache<KeyCache>).get(project) : project === SINGLE_PROJECT ? this.single : undefined
  }

  private newCache (project: string): KeyCache {
    const tenant = project === SINGLE_PROJECT ? null : project
    const cache: KeyCache = new KeyCache(tenant, this.useCounter(project, tenant, () => cache.hasKeys))
    return cache
  }

  /** The project's counter, made on its first count. */
  private counterOf (project: string): UsageCounter {
    let counter = this.usage.get(project)
    if (counter === undefined) this.usage.set(project, counter = new UsageCounter(project))
    return counter
  }

  /** Where a project's verdicts are counted: its usage counter (made on first use) and the metrics. */
  private useCounter (project: string, tenant: string | null, hasKeys: () => boolean): UseCounter {
    const metrics = this.metrics
    const tenantAttribute = tenant ?? undefined
    return {
      counting: (entry) => {
        this.counterOf(project).verified(entry)
        metrics?.counting(entry, tenantAttribute)
      },
      firstUse: (entry) => { this.onFirstUse?.(project, entry, Date.now()) },
      refusedKey: (code, digest) => {
        if (digest !== null && isCountedRefusal(code)) this.counterOf(project).refused(code, digest)
        // The tenant only for a tenant that has keys: requests naming random tenants add no series.
        metrics?.refused(code, undefined, hasKeys() ? tenantAttribute : undefined)
      },
      refusedClient: (entry, code) => {
        if (isCountedRefusal(code)) this.counterOf(project).refused(code, entry.digest)
        metrics?.refused(code, entry, tenantAttribute)
      }
    }
  }

  /**
   * Hands a snapshot the store returned to the cache of its project (a tenant not held is held from now on), as
   * of the epoch its call started in: a read that started before every cache was marked stale leaves it stale.
   */
  private take (project: string, snapshot: ProjectSnapshot, ticket: number, epoch: number): void {
    if (this.single !== null) {
      this.takeInto(this.single, project, snapshot, ticket, epoch)
      return
    }
    const tenants = this.tenants as TenantCache<KeyCache>
    const cached = tenants.get(project)
    const cache = cached ?? this.newCache(project)
    const hadKeys = cache.hasKeys
    this.takeInto(cache, project, snapshot, ticket, epoch)
    if (cached === undefined || hadKeys !== cache.hasKeys) tenants.set(project, cache)
  }

  /** A malformed snapshot (a buggy adapter) changes nothing; the operation that read it answers STORE_UNAVAILABLE. */
  private takeInto (cache: KeyCache, project: string, snapshot: ProjectSnapshot, ticket: number, epoch: number): void {
    try {
      if (sameWrite(cache, { version: snapshot.version, revision: snapshot.state.revision })) {
        cache.ticket = Math.max(cache.ticket, ticket)
        cache.reread()
        return
      }
      if (snapshot.version <= cache.version && ticket < cache.ticket) return
      const from = cache.version
      cache.apply(snapshot)
      if (snapshot.version <= from) {
        this.log.warn({ project, from, to: snapshot.version }, 'anon key store: the project\'s version went back (a restore, a failover or a store that lost its data); its keys are now the store\'s')
      }
    } catch (error) {
      throw anonKeyError('STORE_UNAVAILABLE', 'The key store returned a malformed answer.', { cause: error })
    }
    cache.ticket = ticket
    cache.epoch = epoch
  }
}
