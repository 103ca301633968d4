import type { FastifyBaseLogger } from 'fastify'
import { FINGERPRINT_LENGTH, fingerprintOf, fingerprintOfDigest, generateAnonKey } from '../domain/key.js'
import { DEFAULT_KEY_NAME, isKeyName, KEY_NAME_PATTERN } from '../domain/names.js'
import { normaliseAllowedOrigins } from '../domain/origins.js'
import { clientRefusal, type AttestationCheck, type ClientInputs } from '../domain/client-rules.js'
import { KEY_SETTINGS, normaliseKeySettings, type KeySettings } from '../domain/key-settings.js'
import type { AllowedApps } from '../domain/apps.js'
import type { RateLimit } from '../domain/rate-limit.js'
import { keySettingsInfo } from './key-settings-info.js'
import { findKey, type NamedKey, type PreviousKeyRecord, type ProjectState } from '../domain/project.js'
import { createKey, deleteKey, initializeProject, isRefusal, revokePrevious, rotateKey, updateKey, type Refusal, type StateChange } from '../domain/transitions.js'
import type { UsageCounter } from '../domain/usage.js'
import { anonKeyError } from '../errors/codes.js'
import type { AnonKeyEvents } from './events.js'
import { NEEDS_RETIRED, type KeyCache, type ValidEntry, type VerifyResult } from './project-keys.js'
import { anonKeyInfo, iso, previousKeyInfos, type AnonKeyInfo, type PreviousKeyInfo } from './key-info.js'
import type { ResolvedOptions } from '../options/options.js'
import { MAX_DESCRIPTION_LENGTH } from '../admin/named-key-schemas.js'
import type { RejectionCode } from '../errors/rejection.js'
import type { ProjectSnapshot } from '../stores/interface.js'

const HOUR_MS = 60 * 60 * 1000
const FINGERPRINT_PATTERN = new RegExp(`^[0-9a-f]{${FINGERPRINT_LENGTH}}$`)

export interface RotateResult {
  success: true
  message: string
  anonKey: string
  oldKeyExpiresAt: string
}

export interface RevokeResult {
  success: true
  revoked: number
}

export interface DeleteResult {
  success: true
  deleted: string
}

/** Who asked for a change, for the audit events: the JWT `sub`, or what `authorize` named. */
export interface ChangeContext {
  actor?: string | null
}

/** Which named key an operation acts on (`default` when absent), and who asked. */
export interface KeyContext extends ChangeContext {
  name?: string
}

export interface RotateOptions {
  gracePeriodHours?: number
  /** The key to rotate; `default` when absent. */
  name?: string
}

export interface CreateKeyOptions {
  name: string
  description?: string
  /** Origins allowed to use the key in a browser, or null (the default) for any. */
  allowedOrigins?: string[] | null
  /** Android and iOS apps allowed to use the key, or null (the default) for any. */
  allowedApps?: AllowedApps | null
  /** Whether requests with the key need a valid attestation token (the plugin's `attestation` option). Default false. */
  requireAttestation?: boolean
  /** The key's own rate limit, or null (the default) for the defaults given to anonKeyRateLimit. */
  rateLimit?: RateLimit | null
}

export interface UpdateKeyOptions {
  description?: string
  /** null lifts the restriction. */
  allowedOrigins?: string[] | null
  /** null lifts the restriction. */
  allowedApps?: AllowedApps | null
  requireAttestation?: boolean
  /** null returns the key to the defaults of anonKeyRateLimit. */
  rateLimit?: RateLimit | null
}

/** The request headers a restricted key is judged by, as verifyAnonKey reads them. */
export interface VerifyContext {
  origin?: string
  referer?: string
  /** X-Android-Package */
  androidPackage?: string
  /** X-Android-Cert */
  androidCert?: string
  /** X-Ios-Bundle-Identifier */
  iosBundle?: string
  /** The attestation token, from the header the `attestation` option names. */
  attestationToken?: string
}

/** What one project's operations need from the plugin: the store call, the cache, the events. */
export interface ProjectHost {
  readonly options: ResolvedOptions
  readonly log: FastifyBaseLogger
  call: <T>(operation: string, run: () => Promise<T>) => Promise<T>
  /** Hands a snapshot the store returned to the project's cache. */
  take: (project: string, snapshot: ProjectSnapshot) => void
  /** The project's cache, loaded from the store if it is not held. */
  cacheOf: (project: string) => Promise<KeyCache>
  /** Loads the retired keys of the cache's project into it; never rejects. */
  loadRetired: (cache: KeyCache) => Promise<void>
  /** The project's cache if it is held, else undefined; never calls the store. */
  cachedOf: (project: string) => KeyCache | undefined
  usageOf: (project: string) => UsageCounter
  /** Checks attestation tokens; null without the `attestation` option. */
  readonly attestation: AttestationCheck | null
  announce: <E extends keyof AnonKeyEvents>(event: E, payload: AnonKeyEvents[E][0]) => void
}

/**
 * What verify() answers for a cache's entry of a key. What the key asks of its client (origins, apps,
 * attestation) is judged only when `context` is given, by the rules verifyAnonKey applies.
 */
function resultOf (entry: ValidEntry | RejectionCode, context: VerifyContext | undefined, attest: AttestationCheck | null): VerifyResult | Promise<VerifyResult> {
  if (typeof entry === 'string') return { valid: false, code: entry }
  if (context === undefined || entry.rules === null) return entry.result
  const refusal = clientRefusal(entry.rules, context as ClientInputs, attest)
  if (refusal === null) return entry.result
  if (typeof refusal === 'string') return { valid: false, code: refusal }
  return refusal.then((code) => code === null ? entry.result : { valid: false, code })
}

/**
 * Every operation on the keys of one project (the single project, or one tenant): the seed operations on the
 * key `default`, and the named-key operations of CONTRACT.md section 9. Each change is one atomic `update` of
 * the project's document through a pure transition, so concurrent changes to different names never lose one.
 */
export class ProjectApi {
  private readonly host: ProjectHost
  private readonly project: string
  private readonly tenant: string | null

  constructor (host: ProjectHost, project: string, tenant: string | null) {
    this.host = host
    this.project = project
    this.tenant = tenant
  }

  /** The current key of `default`, read from the store; null when there is none. */
  async get (): Promise<string | null> {
    const state = await this.load()
    return findKey(state, DEFAULT_KEY_NAME)?.currentKey ?? null
  }

  /** Creates `default` (initialKey or a random key) unless the project has it already. */
  async initialize (): Promise<{ created: boolean, anonKey: string }> {
    const candidate = (this.tenant === null ? this.host.options.initialKey : null) ?? generateAnonKey()
    const result = await this.change('initialize', (state) => initializeProject(state, { key: candidate, now: Date.now() }))
      .catch((error: { code?: string }) => {
        // Only a given initialKey can already be in use (a random key never is).
        if (error.code === 'CONFLICT') throw anonKeyError('CONFLICT', 'The initial key is already used in this project. Pass another initialKey, or none.')
        throw error
      })
    if (result.created) this.host.log.info({ ...this.where(), fingerprint: fingerprintOf(candidate) }, 'anon key initialized')
    return { created: result.created, anonKey: result.key.currentKey }
  }

  async rotate (options: RotateOptions = {}, context: ChangeContext = {}): Promise<RotateResult> {
    const name = this.nameOf(options.name)
    const { defaultGracePeriodHours, maxGracePeriodHours, maxPreviousKeys } = this.host.options
    // Only an absent value means the default: a null from a script is refused, as it is over HTTP.
    const gracePeriodHours = options.gracePeriodHours === undefined ? defaultGracePeriodHours : options.gracePeriodHours
    if (!Number.isInteger(gracePeriodHours) || gracePeriodHours < 0 || gracePeriodHours > maxGracePeriodHours) {
      throw anonKeyError('INVALID_INPUT', `gracePeriodHours must be an integer from 0 to ${maxGracePeriodHours}`)
    }
    const newKey = generateAnonKey()
    const now = Date.now()
    const expiresAt = now + gracePeriodHours * HOUR_MS
    const result = await this.change('rotate', (state) => rotateKey(state, { name, newKey, now, expiresAt, maxPreviousKeys }), name)
    const event = {
      ...this.where(name),
      actor: context.actor ?? null,
      gracePeriodHours,
      rotatedAt: iso(now),
      oldKeyExpiresAt: iso(result.retired.expiresAt),
      oldFingerprint: fingerprintOfDigest(result.retired.digest),
      newFingerprint: fingerprintOf(newKey),
      evictedFingerprints: result.capped.map((record) => fingerprintOfDigest(record.digest))
    }
    this.host.log.info(event, 'anon key rotated')
    this.host.announce('rotated', event)
    return {
      success: true,
      message: gracePeriodHours === 0
        ? 'Anon key rotated successfully. The old key stopped working immediately.'
        : 'Anon key rotated successfully. Old key will remain valid during grace period.',
      anonKey: newKey,
      oldKeyExpiresAt: event.oldKeyExpiresAt
    }
  }

  /**
   * Never throws: a malformed or unknown key resolves to `{ valid: false, code }`. With `context` (the request's
   * Origin or Referer), a key restricted to origins is refused with ANON_KEY_ORIGIN_NOT_ALLOWED outside them.
   */
  verify (key: unknown, context?: VerifyContext): Promise<VerifyResult> {
    // Not an async function: a cached project answers with one resolved promise, nothing suspended.
    const cache = this.host.cachedOf(this.project)
    if (cache !== undefined) return this.judge(cache, key, context)
    return this.host.cacheOf(this.project).then((loaded) => this.judge(loaded, key, context), () => ({ valid: false, code: 'AUTH_INVALID_CREDENTIALS' }))
  }

  /** Judges `key` from the cache, loading the project's retired keys first when only they can tell. */
  private judge (cache: KeyCache, key: unknown, context: VerifyContext | undefined): Promise<VerifyResult> {
    const entry = cache.lookup(key, Date.now())
    const attest = this.host.attestation
    if (entry !== NEEDS_RETIRED) return Promise.resolve(resultOf(entry, context, attest))
    return this.host.loadRetired(cache).then(() => resultOf(cache.lookupLoaded(key, Date.now()), context, attest))
  }

  /** Previous keys of the name (`default` when absent) that still verify, newest rotation first. */
  async listPrevious (options: { name?: string } = {}): Promise<PreviousKeyInfo[]> {
    const name = this.nameOf(options.name)
    const key = findKey(await this.load(), name)
    if (key === undefined) {
      if (name === DEFAULT_KEY_NAME) return []
      throw this.unknown(name)
    }
    return previousKeyInfos(key.previousKeys, this.host.usageOf(this.project), Date.now())
  }

  /** Revokes one previous key of the name by fingerprint, or every previous key of it when none is named. */
  async revokePrevious (fingerprint?: string, context: KeyContext = {}): Promise<RevokeResult> {
    const name = this.nameOf(context.name)
    if (fingerprint !== undefined && (typeof fingerprint !== 'string' || !FINGERPRINT_PATTERN.test(fingerprint))) {
      throw anonKeyError('INVALID_INPUT', `fingerprint must be ${FINGERPRINT_LENGTH} lowercase hex characters`)
    }
    const now = Date.now()
    let revoked: PreviousKeyRecord[]
    try {
      revoked = (await this.change('revoke', (state) => revokePrevious(state, { name, now, fingerprint }), name)).revoked
    } catch (error: any) {
      // The seed's routes answer a project without keys as one without previous keys.
      if (name !== DEFAULT_KEY_NAME || error?.code !== 'ANON_KEY_NOT_INITIALIZED') throw error
      revoked = []
    }
    if (fingerprint !== undefined && revoked.length === 0) {
      throw anonKeyError('NOT_FOUND', `No previous key of "${name}" that still verifies has the fingerprint ${fingerprint}.`)
    }
    const event = {
      ...this.where(name),
      actor: context.actor ?? null,
      scope: fingerprint === undefined ? 'all' as const : 'one' as const,
      revoked: revoked.length,
      fingerprints: revoked.map((record) => fingerprintOfDigest(record.digest)),
      revokedAt: iso(now)
    }
    this.host.log.info(event, 'previous anon keys revoked')
    this.host.announce('revoked', event)
    return { success: true, revoked: revoked.length }
  }

  /** Every named key of the project, sorted by name, `default` included. */
  async listKeys (): Promise<AnonKeyInfo[]> {
    const state = await this.load()
    const usage = this.host.usageOf(this.project)
    const now = Date.now()
    return state.keys.map((key) => anonKeyInfo(key, usage, now))
  }

  async getKey (name: string): Promise<AnonKeyInfo> {
    this.checkName(name)
    const key = findKey(await this.load(), name)
    if (key === undefined) throw this.unknown(name)
    return anonKeyInfo(key, this.host.usageOf(this.project), Date.now())
  }

  /** Adds a key under a new name. 409 CONFLICT when the name exists or the project holds `maxKeys` names. */
  async createKey (options: CreateKeyOptions, context: ChangeContext = {}): Promise<AnonKeyInfo> {
    if (options === null || typeof options !== 'object') {
      throw anonKeyError('INVALID_INPUT', 'createKey takes { name, description?, allowedOrigins?, allowedApps?, requireAttestation?, rateLimit? }.')
    }
    this.checkName(options.name)
    const description = this.checkDescription(options.description) ?? ''
    const allowedOrigins = this.checkOrigins(options.allowedOrigins) ?? null
    const settings = this.checkSettings(options)
    const now = Date.now()
    const { key } = await this.change<{ key: NamedKey }>('createKey', (state) => {
      if (findKey(state, DEFAULT_KEY_NAME) === undefined) return { result: { refused: 'NOT_FOUND', message: 'no default key' } }
      return createKey(state, { name: options.name, key: generateAnonKey(), now, description, allowedOrigins, settings, maxKeys: this.host.options.maxKeys })
    }, DEFAULT_KEY_NAME)
    const event = {
      ...this.where(key.name),
      actor: context.actor ?? null,
      fingerprint: fingerprintOf(key.currentKey),
      description,
      allowedOrigins,
      ...keySettingsInfo(key),
      createdAt: iso(now)
    }
    this.host.log.info(event, 'anon key created')
    this.host.announce('created', event)
    return anonKeyInfo(key, this.host.usageOf(this.project), now)
  }

  /** Changes a key's description or allowed origins (null lifts the restriction); its keys stay as they are. */
  async updateKey (name: string, changes: UpdateKeyOptions, context: ChangeContext = {}): Promise<AnonKeyInfo> {
    this.checkName(name)
    if (changes === null || typeof changes !== 'object' ||
      (changes.description === undefined && changes.allowedOrigins === undefined && KEY_SETTINGS.every((setting) => changes[setting] === undefined))) {
      throw anonKeyError('INVALID_INPUT', `Name at least one of description, allowedOrigins, ${KEY_SETTINGS.join(', ')} to change.`)
    }
    const description = this.checkDescription(changes.description)
    const allowedOrigins = this.checkOrigins(changes.allowedOrigins)
    const settings = this.checkSettings(changes)
    const { key } = await this.change('updateKey', (state) => updateKey(state, { name, description, allowedOrigins, settings }), name)
    const now = Date.now()
    const event = {
      ...this.where(name),
      actor: context.actor ?? null,
      description: key.description,
      allowedOrigins: key.allowedOrigins,
      ...keySettingsInfo(key),
      updatedAt: iso(now)
    }
    this.host.log.info(event, 'anon key updated')
    this.host.announce('updated', event)
    return anonKeyInfo(key, this.host.usageOf(this.project), now)
  }

  /** Deletes a name: its current and previous keys stop verifying at once (ANON_KEY_REVOKED). Not `default`. */
  async deleteKey (name: string, context: ChangeContext = {}): Promise<DeleteResult> {
    this.checkName(name)
    const now = Date.now()
    const { revoked } = await this.change('deleteKey', (state) => deleteKey(state, { name, now }), name)
    const event = { ...this.where(name), actor: context.actor ?? null, fingerprints: revoked.map((record) => fingerprintOfDigest(record.digest)), deletedAt: iso(now) }
    this.host.log.info(event, 'anon key deleted')
    this.host.announce('deleted', event)
    return { success: true, deleted: name }
  }

  /** @internal Creates `default` if the project has no key yet: a tenant's first admin request. */
  async ensureInitialized (): Promise<void> {
    const cache = await this.host.cacheOf(this.project)
    if (cache.defaultKey === null) await this.initialize()
  }

  private async load (): Promise<ProjectState> {
    const snapshot = await this.host.call('load', () => this.host.options.store.load(this.project))
    this.host.take(this.project, snapshot)
    return snapshot.state
  }

  /**
   * One atomic change of the project's document. A refusal of the transition becomes the error of its code;
   * a name that does not exist is ANON_KEY_NOT_INITIALIZED for `default` (the seed's contract), else NOT_FOUND.
   */
  private async change<T extends object> (operation: string, transition: (state: ProjectState) => StateChange<T | Refusal>, name?: string): Promise<T> {
    const { snapshot, result } = await this.host.call(operation, () => this.host.options.store.update(this.project, transition))
    this.host.take(this.project, snapshot)
    if (isRefusal(result)) {
      if (result.refused === 'NOT_FOUND' && name === DEFAULT_KEY_NAME) {
        throw anonKeyError('ANON_KEY_NOT_INITIALIZED', operation === 'rotate'
          ? 'The store holds no anon key yet, so there is nothing to rotate.'
          : 'The project holds no anon key yet: create it with initialize() (or autoInitialize) first.')
      }
      throw anonKeyError(result.refused, result.message)
    }
    return result
  }

  private where (name?: string): { name: string, tenant?: string } {
    const where: { name: string, tenant?: string } = { name: name ?? DEFAULT_KEY_NAME }
    if (this.tenant !== null) where.tenant = this.tenant
    return where
  }

  private nameOf (name: string | undefined): string {
    if (name === undefined) return DEFAULT_KEY_NAME
    this.checkName(name)
    return name
  }

  private checkName (name: unknown): asserts name is string {
    if (!isKeyName(name)) throw anonKeyError('INVALID_INPUT', `A key name must match ${String(KEY_NAME_PATTERN)} (web, ios, android), got ${JSON.stringify(name)?.slice(0, 40)}.`)
  }

  private checkDescription (description: unknown): string | undefined {
    if (description === undefined) return undefined
    if (typeof description !== 'string' || description.length > MAX_DESCRIPTION_LENGTH) {
      throw anonKeyError('INVALID_INPUT', `description must be a string of at most ${MAX_DESCRIPTION_LENGTH} characters.`)
    }
    return description
  }

  private checkOrigins (allowedOrigins: unknown): string[] | null | undefined {
    if (allowedOrigins === undefined) return undefined
    const checked = normaliseAllowedOrigins(allowedOrigins)
    if ('problem' in checked) throw anonKeyError('INVALID_INPUT', `${checked.problem}.`)
    return checked.origins
  }

  /** Apps, attestation and rate limit, checked; requiring attestation needs the plugin's `attestation` option. */
  private checkSettings (input: CreateKeyOptions | UpdateKeyOptions): KeySettings {
    const checked = normaliseKeySettings(input)
    if ('problem' in checked) throw anonKeyError('INVALID_INPUT', `${checked.problem}.`)
    if (checked.settings.requireAttestation === true && this.host.attestation === null) {
      throw anonKeyError('INVALID_INPUT', 'requireAttestation needs the plugin\'s attestation option, which this server was registered without.', {
        nextActions: 'Register the plugin with attestation: { issuer, audience } (Firebase App Check) or attestation: { verify }, then set requireAttestation.'
      })
    }
    return checked.settings
  }

  private unknown (name: string): Error {
    return anonKeyError('NOT_FOUND', `No anon key is named "${name}".`)
  }
}
