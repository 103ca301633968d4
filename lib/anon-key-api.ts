import { EventEmitter } from 'node:events'
import type { FastifyBaseLogger } from 'fastify'
import { anonKeyError } from './errors.js'
import { FINGERPRINT_LENGTH, fingerprintOf, fingerprintOfDigest, generateAnonKey } from './domain/key.js'
import { KeyCache, type VerifyResult } from './key-cache.js'
import type { ResolvedOptions } from './options.js'
import { DEFAULT_KEY_NAME, SINGLE_PROJECT } from './domain/names.js'
import { keySnapshot, type KeySnapshot, type ProjectState } from './domain/project.js'
import { isStillValid } from './domain/retention.js'
import { initializeProject, isRefusal, recordUsage, revokePrevious, rotateKey, type StateChange } from './domain/transitions.js'
import { storeCall } from './store-call.js'
import type { ProjectSnapshot } from './stores/store.js'

const HOUR_MS = 60 * 60 * 1000
const FINGERPRINT_PATTERN = new RegExp(`^[0-9a-f]{${FINGERPRINT_LENGTH}}$`)

export interface RotateResult {
  success: true
  message: string
  anonKey: string
  oldKeyExpiresAt: string
}

export interface PreviousKeyInfo {
  fingerprint: string
  rotatedAt: string
  expiresAt: string
  /** Requests that carried this key since its rotation: all instances' reported counts plus this one's. */
  requests: number
  /** The last such request, or null if none was seen. */
  lastSeenAt: string | null
}

export interface RevokeResult {
  success: true
  revoked: number
}

/** Who asked for a change, for the audit events: the JWT `sub`, or what `authorize` named. */
export interface ChangeContext {
  actor?: string | null
}

export interface RotatedEvent {
  actor: string | null
  gracePeriodHours: number
  rotatedAt: string
  oldKeyExpiresAt: string
  oldFingerprint: string
  newFingerprint: string
}

export interface RevokedEvent {
  actor: string | null
  scope: 'all' | 'one'
  revoked: number
  fingerprints: string[]
  revokedAt: string
}

const iso = (ms: number): string => new Date(ms).toISOString()

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
 * `app.anonKey`: every operation on the key, for the routes and for scripts. Emits `rotated` and `revoked`.
 * Keeps the in-process cache that verification reads, and keeps it fresh from the store's notifications.
 */
export class AnonKeyApi extends EventEmitter {
  /** @internal read by verifyAnonKey on every request */
  readonly cache = new KeyCache()
  private readonly options: ResolvedOptions
  private readonly log: FastifyBaseLogger
  private refreshing: Promise<void> | null = null
  private refreshAgain = false
  private unsubscribe: (() => Promise<void>) | null = null
  private timer: NodeJS.Timeout | null = null
  private usageTimer: NodeJS.Timeout | null = null

  constructor (options: ResolvedOptions, log: FastifyBaseLogger) {
    super()
    this.options = options
    this.log = log
  }

  /** The current key, read from the store; null when there is none. */
  async get (): Promise<string | null> {
    return (await this.load()).currentKey
  }

  /** Creates the first key (initialKey or a random one) unless the store holds one already. */
  async initialize (): Promise<{ created: boolean, anonKey: string }> {
    const candidate = this.options.initialKey ?? generateAnonKey()
    const result = await this.update('initialize', (state) => initializeProject(state, { key: candidate, now: Date.now() }))
    if (isRefusal(result)) throw new Error(`fastify-anon-key: ${result.message} Pass another initialKey, or none.`)
    if (result.created) this.log.info({ fingerprint: fingerprintOf(candidate) }, 'anon key initialized')
    return { created: result.created, anonKey: result.key.currentKey }
  }

  async rotate (options: { gracePeriodHours?: number } = {}, context: ChangeContext = {}): Promise<RotateResult> {
    // Only an absent value means the default: a null from a script is refused, as it is over HTTP.
    const gracePeriodHours = options.gracePeriodHours === undefined ? this.options.defaultGracePeriodHours : options.gracePeriodHours
    if (!Number.isInteger(gracePeriodHours) || gracePeriodHours < 0 || gracePeriodHours > this.options.maxGracePeriodHours) {
      throw anonKeyError('INVALID_INPUT', `gracePeriodHours must be an integer from 0 to ${this.options.maxGracePeriodHours}`)
    }
    const newKey = generateAnonKey()
    const now = Date.now()
    const expiresAt = now + gracePeriodHours * HOUR_MS
    const outcome = await this.update('rotate', (state) => rotateKey(state, { name: DEFAULT_KEY_NAME, newKey, now, expiresAt }))
    // The only refusal a fresh random key can meet: the project has no `default` key.
    if (isRefusal(outcome)) {
      throw anonKeyError('ANON_KEY_NOT_INITIALIZED', 'The store holds no anon key yet, so there is nothing to rotate.')
    }
    const event: RotatedEvent = {
      actor: context.actor ?? null,
      gracePeriodHours,
      rotatedAt: iso(now),
      oldKeyExpiresAt: iso(outcome.retired.expiresAt),
      oldFingerprint: fingerprintOfDigest(outcome.retired.digest),
      newFingerprint: fingerprintOf(newKey)
    }
    this.log.info(event, 'anon key rotated')
    this.announce('rotated', event)
    return {
      success: true,
      message: gracePeriodHours === 0
        ? 'Anon key rotated successfully. The old key stopped working immediately.'
        : 'Anon key rotated successfully. Old key will remain valid during grace period.',
      anonKey: newKey,
      oldKeyExpiresAt: event.oldKeyExpiresAt
    }
  }

  /** Never throws: a malformed or unknown key resolves to `{ valid: false, code }`. */
  verify (key: unknown): Promise<VerifyResult> {
    const entry = this.cache.lookup(key, Date.now())
    return Promise.resolve(typeof entry === 'string' ? { valid: false, code: entry } : entry.result)
  }

  /** Previous keys that still verify, newest rotation first. */
  async listPrevious (): Promise<PreviousKeyInfo[]> {
    const snapshot = await this.load()
    const now = Date.now()
    return snapshot.previousKeys
      .filter((record) => isStillValid(record, now))
      .sort((a, b) => b.rotatedAt - a.rotatedAt)
      .map((record) => {
        const unreported = this.cache.usage.peek(record.digest)
        const lastSeenAt = Math.max(record.lastSeenAt ?? 0, unreported?.lastSeenAt ?? 0)
        return {
          fingerprint: fingerprintOfDigest(record.digest),
          rotatedAt: iso(record.rotatedAt),
          expiresAt: iso(record.expiresAt),
          requests: (record.requests ?? 0) + (unreported?.requests ?? 0),
          lastSeenAt: lastSeenAt === 0 ? null : iso(lastSeenAt)
        }
      })
  }

  /**
   * Hands the previous-key usage counted in this process to the store in one batch (every `usageFlushMs`, and
   * on close), so that every instance lists the sums. Counts that fail to reach the store are kept for the
   * next batch.
   */
  async flushUsage (): Promise<void> {
    const reports = this.cache.usage.take()
    if (reports.length === 0) return
    try {
      await this.call('recordUsage', () => this.options.store.update(SINGLE_PROJECT, (state) => recordUsage(state, reports)))
    } catch (error) {
      this.cache.usage.giveBack(reports)
      this.log.warn({ err: error }, 'anon key usage figures not saved; will retry')
    }
  }

  /** Revokes one previous key by fingerprint, or every previous key when none is named. */
  async revokePrevious (fingerprint?: string, context: ChangeContext = {}): Promise<RevokeResult> {
    if (fingerprint !== undefined && (typeof fingerprint !== 'string' || !FINGERPRINT_PATTERN.test(fingerprint))) {
      throw anonKeyError('INVALID_INPUT', `fingerprint must be ${FINGERPRINT_LENGTH} lowercase hex characters`)
    }
    const now = Date.now()
    const result = await this.update('revoke', (state) => revokePrevious(state, { name: DEFAULT_KEY_NAME, now, fingerprint }))
    // A project without a `default` key has no previous key to revoke.
    const outcome = isRefusal(result) ? { revoked: [] } : result
    if (fingerprint !== undefined && outcome.revoked.length === 0) {
      throw anonKeyError('NOT_FOUND', `No previous key that still verifies has the fingerprint ${fingerprint}.`)
    }
    const event: RevokedEvent = {
      actor: context.actor ?? null,
      scope: fingerprint === undefined ? 'all' : 'one',
      revoked: outcome.revoked.length,
      fingerprints: outcome.revoked.map((record) => fingerprintOfDigest(record.digest)),
      revokedAt: iso(now)
    }
    this.log.info(event, 'previous anon keys revoked')
    this.announce('revoked', event)
    return { success: true, revoked: outcome.revoked.length }
  }

  /** @internal Subscribes to changes, loads or creates the key, and starts the fallback reload timer. */
  async start (): Promise<void> {
    try {
      this.unsubscribe = await this.call('subscribe', () => this.options.store.subscribe((project) => {
        if (project === SINGLE_PROJECT || project === null) this.refresh()
      }))
      if (this.options.autoInitialize) await this.initialize()
      else await this.load()
    } catch (error) {
      throw withCauseInMessage(error)
    }
    this.timer = setInterval(() => { this.refresh() }, this.options.cacheTtlMs)
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
   * Reloads the cache from the store. Calls that arrive while a reload runs are folded into one more reload
   * after it, so the cache always ends on a snapshot taken after the last change it heard of.
   */
  refresh (): Promise<void> {
    if (this.refreshing !== null) {
      this.refreshAgain = true
      return this.refreshing
    }
    this.refreshing = this.reload().finally(() => {
      this.refreshing = null
      if (this.refreshAgain) {
        this.refreshAgain = false
        this.refresh()
      }
    })
    return this.refreshing
  }

  private async reload (): Promise<void> {
    try {
      await this.load()
    } catch (error) {
      this.log.error({ err: error }, 'anon key store unreachable; verifying with the last known keys')
    }
  }

  /** Emits an audit event. The change has happened: a listener that throws is logged, never turned into a failure. */
  private announce (name: 'rotated' | 'revoked', event: RotatedEvent | RevokedEvent): void {
    try {
      this.emit(name, event)
    } catch (error) {
      this.log.error({ err: error }, `a listener of the anon key "${name}" event threw`)
    }
  }

  /** The `default` key as the store holds it now; the cache takes it. */
  private async load (): Promise<KeySnapshot> {
    const snapshot = await this.call('load', () => this.options.store.load(SINGLE_PROJECT))
    return this.take(snapshot)
  }

  /** Applies a transition to the project in the store; the cache takes the state after it. */
  private async update<T> (operation: string, change: (state: ProjectState) => StateChange<T>): Promise<T> {
    const { snapshot, result } = await this.call(operation, () => this.options.store.update(SINGLE_PROJECT, change))
    this.take(snapshot)
    return result
  }

  private take (snapshot: ProjectSnapshot): KeySnapshot {
    const view = keySnapshot(snapshot.version, snapshot.state)
    this.cache.apply(view, Date.now())
    return view
  }

  private call<T> (operation: string, run: () => Promise<T>): Promise<T> {
    return storeCall(operation, this.options.storeTimeoutMs, run)
  }
}
