import { fingerprintOf, fingerprintOfDigest, FINGERPRINT_LENGTH, generateAnonKey, isFingerprint } from '../domain/key.js'
import { DEFAULT_KEY_NAME, isKeyName, KEY_NAME_PATTERN, MAX_DESCRIPTION_LENGTH } from '../domain/names.js'
import { normaliseAllowedOrigins } from '../domain/origins.js'
import { unstorableTextProblem } from '../domain/text.js'
import { findKey, type NamedKey, type PreviousKeyRecord, type ProjectState } from '../domain/project.js'
import { createKey, deleteKey, initializeProject, isRefusal, revokePrevious, rotateKey, updateKey, type Refusal, type StateChange } from '../domain/transitions.js'
import { anonKeyError, ROTATE_BODY_ADVICE } from '../errors/codes.js'
import type { AllowedApps } from '../domain/apps.js'
import type { AttestationCheck } from '../domain/client-rules.js'
import { KEY_SETTINGS, normaliseKeySettings, type KeySettings } from '../domain/key-settings.js'
import type { RateLimit } from '../domain/rate-limit.js'
import { keySettingsInfo } from './key-settings-info.js'
import type { AnonKeyEvents } from './events.js'
import { judge, type Judging, type Verdict } from './judge.js'
import { anonKeyInfo, iso, previousKeyInfos, type AnonKeyInfo, type PreviousKeyInfo } from './key-info.js'
import type { Mirror } from './mirror.js'
import type { ValidEntry, VerifyResult } from './project-keys.js'
import { recordFirstUse as firstUseChange, withEffectiveExpiry } from '../domain/first-use.js'
import { isStillValid } from '../domain/retention.js'
import { HOUR_MS } from '../domain/time.js'
import { keyUsageReport, type KeyUsageReport } from './usage-report.js'
import { requireUsageHistory, unusedView, usageHistory, usageView } from './usage-view.js'

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
  /**
   * When the old key's grace begins: at the rotation (the default), or at the new key's first use by any
   * instance, never later than maxGracePeriodHours after the rotation.
   */
  graceStartsAt?: 'rotation' | 'first-use'
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

/** Emits an audit event; the change has happened, so a listener that throws is logged, never a failure. */
export type Announce = <E extends keyof AnonKeyEvents>(event: E, payload: AnonKeyEvents[E][0]) => void

/** The project a set of operations acts on: SINGLE_PROJECT, or a tenant. */
export interface OperationsTarget {
  mirror: Mirror
  project: string
  announce: Announce
  /** Checks attestation tokens; null without the `attestation` option. */
  attest: AttestationCheck | null
}

const targets = new WeakMap<object, OperationsTarget>()

/** Points a set of operations at its project. */
export function aim (operations: object, target: OperationsTarget): void {
  targets.set(operations, target)
}

interface Project {
  mirror: Mirror
  attest: AttestationCheck | null
  project: string
  /** The tenant, or null for the single project. */
  tenant: string | null
  announce: Announce
}

/** What calling an operation on `app.anonKey` itself in tenant mode throws, at once. */
export function tenantModeError (): Error {
  return anonKeyError('INVALID_INPUT', 'The plugin runs in tenant mode: use app.anonKey.forTenant(id) to act on one tenant\'s keys.', {
    nextActions: 'Call app.anonKey.forTenant(tenantId) and use the operations it returns.'
  })
}

function projectOf (operations: object): Project {
  const target = targets.get(operations) as OperationsTarget
  return { ...target, tenant: target.project === '' ? null : target.project }
}

/** What the events and logs of a change name: the key, and the tenant in tenant mode. */
function where (project: Project, name: string): { name: string, tenant?: string } {
  return project.tenant === null ? { name } : { name, tenant: project.tenant }
}

/** Builds a change's event once, logs it and announces it. */
function report<E extends keyof AnonKeyEvents> (project: Project, event: E, payload: AnonKeyEvents[E][0], message: string): void {
  project.mirror.log.info(payload as object, message)
  project.announce(event, payload)
}

function resultOf (verdict: Verdict): VerifyResult {
  return typeof verdict === 'string' ? { valid: false, code: verdict } : verdict.result
}

function nameOf (name: string | undefined): string {
  if (name === undefined) return DEFAULT_KEY_NAME
  checkName(name)
  return name
}

function checkName (name: unknown): asserts name is string {
  if (!isKeyName(name)) {
    throw anonKeyError('INVALID_INPUT', `A key name must match ${String(KEY_NAME_PATTERN)} (web, ios, android), got ${JSON.stringify(name)?.slice(0, 40)}.`, {
      nextActions: 'Use a name of 1 to 32 characters: a lowercase letter, then lowercase letters, digits, _ or -.'
    })
  }
}

function checkDescription (description: unknown): string | undefined {
  if (description === undefined) return undefined
  if (typeof description !== 'string' || description.length > MAX_DESCRIPTION_LENGTH) {
    throw anonKeyError('INVALID_INPUT', `description must be a string of at most ${MAX_DESCRIPTION_LENGTH} characters.`, {
      nextActions: `Send a description of at most ${MAX_DESCRIPTION_LENGTH} characters, or leave it out.`
    })
  }
  const problem = unstorableTextProblem('description', description)
  if (problem !== null) throw anonKeyError('INVALID_INPUT', problem, { nextActions: 'Remove that character from description and send the request again.' })
  return description
}

function checkOrigins (allowedOrigins: unknown): string[] | null | undefined {
  if (allowedOrigins === undefined) return undefined
  const checked = normaliseAllowedOrigins(allowedOrigins)
  if ('problem' in checked) {
    throw anonKeyError('INVALID_INPUT', `${checked.problem}.`, {
      nextActions: 'Send allowedOrigins as an array of origins such as "https://app.example.com" or "https://*.example.com", or null for any origin.'
    })
  }
  return checked.origins
}

/** Apps, attestation and rate limit, checked; requiring attestation needs the plugin's `attestation` option. */
function checkSettings (project: Project, input: CreateKeyOptions | UpdateKeyOptions): KeySettings {
  const checked = normaliseKeySettings(input)
  if ('problem' in checked) {
    throw anonKeyError('INVALID_INPUT', `${checked.problem}.`, { nextActions: 'Fix the setting the message names, or leave it out to keep it as it is.' })
  }
  if (checked.settings.requireAttestation === true && project.attest === null) {
    throw anonKeyError('INVALID_INPUT', 'requireAttestation needs the plugin\'s attestation option, which this server was registered without.', {
      nextActions: 'Register the plugin with attestation: { issuer, audience } (Firebase App Check) or attestation: { verify }, then set requireAttestation.'
    })
  }
  return checked.settings
}

function unknownName (name: string): Error {
  return anonKeyError('NOT_FOUND', `No anon key is named "${name}".`, { nextActions: 'List the names with GET /api/secrets/anon-keys (or listKeys()).' })
}

async function load (project: Project): Promise<ProjectState> {
  return (await project.mirror.read(project.project)).state
}

/**
 * One atomic change of the project's document through a pure transition, so concurrent changes to different
 * names never lose one. A refusal becomes the error of its code; a name that does not exist is
 * ANON_KEY_NOT_INITIALIZED for `default` (the seed's contract), else NOT_FOUND.
 */
async function change<T extends object> (
  project: Project,
  operation: string,
  transition: (state: ProjectState) => StateChange<T | Refusal>,
  name?: string
): Promise<T> {
  const { result } = await project.mirror.write(operation, project.project, transition)
  if (!isRefusal(result)) return result
  if (result.refused === 'NOT_FOUND' && name === DEFAULT_KEY_NAME) {
    throw anonKeyError('ANON_KEY_NOT_INITIALIZED', operation === 'rotate'
      ? 'The store holds no anon key yet, so there is nothing to rotate.'
      : 'The project holds no anon key yet: create it with initialize() (or autoInitialize) first.')
  }
  if (result.refused === 'NOT_FOUND' && name !== undefined) throw unknownName(name)
  throw anonKeyError(result.refused, result.message)
}

type Constructor = new (...args: any[]) => object

/**
 * Every operation on the keys of one project (the single project, or one tenant): the seed's operations on the
 * key `default` and the named-key operations. Written once, as a mixin, so that `app.anonKey` (an event emitter
 * too) and `forTenant(id)` are the same operations.
 */
export function KeyOperations<B extends Constructor> (Base: B) {
  return class KeyOperations extends Base {
    /** The current key of `default`, read from the store; null when there is none. */
    async get (): Promise<string | null> {
      return findKey(await load(projectOf(this)), DEFAULT_KEY_NAME)?.currentKey ?? null
    }

    /** Creates `default` (initialKey or a random key) unless the project has it already. */
    async initialize (): Promise<{ created: boolean, anonKey: string }> {
      const project = projectOf(this)
      const candidate = (project.tenant === null ? project.mirror.options.initialKey : null) ?? generateAnonKey()
      const result = await change(project, 'initialize', (state) => initializeProject(state, { key: candidate, now: Date.now() }))
        .catch((error: { code?: string }) => {
          // Only a given initialKey can already be in use (a random key never is).
          if (error.code === 'CONFLICT') throw anonKeyError('CONFLICT', 'The initial key is already used in this project. Pass another initialKey, or none.')
          throw error
        })
      if (result.created) project.mirror.log.info({ ...where(project, DEFAULT_KEY_NAME), fingerprint: fingerprintOf(candidate) }, 'anon key initialized')
      return { created: result.created, anonKey: result.key.currentKey }
    }

    /** Rotates `default`, or the key named in `options.name`; the old key verifies for the grace period. */
    async rotate (options: RotateOptions = {}, context: ChangeContext = {}): Promise<RotateResult> {
      const project = projectOf(this)
      const name = nameOf(options.name)
      const { defaultGracePeriodHours, maxGracePeriodHours, maxPreviousKeys } = project.mirror.options
      // Only an absent value means the default: a null from a script is refused, as it is over HTTP.
      const gracePeriodHours = options.gracePeriodHours === undefined ? defaultGracePeriodHours : options.gracePeriodHours
      if (!Number.isInteger(gracePeriodHours) || gracePeriodHours < 0 || gracePeriodHours > maxGracePeriodHours) {
        throw anonKeyError('INVALID_INPUT', `gracePeriodHours must be an integer from 0 to ${maxGracePeriodHours}`, { nextActions: ROTATE_BODY_ADVICE })
      }
      const graceStartsAt = options.graceStartsAt ?? 'rotation'
      if (graceStartsAt !== 'rotation' && graceStartsAt !== 'first-use') {
        throw anonKeyError('INVALID_INPUT', 'graceStartsAt must be "rotation" or "first-use"', { nextActions: ROTATE_BODY_ADVICE })
      }
      const newKey = generateAnonKey()
      const now = Date.now()
      const firstUse = graceStartsAt === 'first-use'
      // From first use, the old key verifies at the latest until the longest grace allowed after the rotation.
      const expiresAt = now + (firstUse ? maxGracePeriodHours : gracePeriodHours) * HOUR_MS
      const graceMs = firstUse ? gracePeriodHours * HOUR_MS : undefined
      const result = await change(project, 'rotate', (state) => rotateKey(state, { name, newKey, now, expiresAt, graceMs, maxPreviousKeys }), name)
      const event = {
        ...where(project, name),
        actor: context.actor ?? null,
        gracePeriodHours,
        graceStartsAt,
        rotatedAt: iso(now),
        oldKeyExpiresAt: iso(result.retired.expiresAt),
        oldFingerprint: fingerprintOfDigest(result.retired.digest),
        newFingerprint: fingerprintOf(newKey),
        evictedFingerprints: result.capped.map((record) => fingerprintOfDigest(record.digest))
      }
      report(project, 'rotated', event, 'anon key rotated')
      return {
        success: true,
        message: gracePeriodHours === 0 && !firstUse
          ? 'Anon key rotated successfully. The old key stopped working immediately.'
          : 'Anon key rotated successfully. Old key will remain valid during grace period.',
        anonKey: newKey,
        oldKeyExpiresAt: event.oldKeyExpiresAt
      }
    }

    /**
     * Never throws: resolves to the key's identity or `{ valid: false, code }`, as verifyAnonKey judges it. With
     * `context` (the request's Origin or Referer) a key's origin restriction is judged too; without, the key alone.
     */
    verify (key: unknown, context?: VerifyContext): Promise<VerifyResult> {
      const { mirror, project, attest } = projectOf(this)
      const judging: Judging<VerifyContext> = { loadRetired: (cache) => mirror.loadRetired(cache), attest, inputsOf: (given) => given }
      // Not an async function: a cached project answers with one resolved promise, nothing suspended.
      const cache = mirror.held(project)
      if (cache === undefined) {
        return mirror.cacheOf(project).then((loaded) => judge(loaded, key, judging, context)).then(resultOf, () => ({ valid: false, code: 'AUTH_INVALID_CREDENTIALS' }))
      }
      const verdict = judge(cache, key, judging, context)
      return verdict instanceof Promise ? verdict.then(resultOf) : Promise.resolve(resultOf(verdict))
    }

    /** Previous keys of the name (`default` when absent) that still verify, newest rotation first. */
    async listPrevious (options: { name?: string } = {}): Promise<PreviousKeyInfo[]> {
      const project = projectOf(this)
      const name = nameOf(options.name)
      const key = findKey(await load(project), name)
      if (key === undefined) {
        if (name === DEFAULT_KEY_NAME) return []
        throw unknownName(name)
      }
      return previousKeyInfos(name, withEffectiveExpiry(key), await usageView(project.mirror, project.project), Date.now())
    }

    /**
     * The name's keys (`default` when absent) with their use per hour over the last 7 days, summed over every
     * instance, and the refused requests that carried its dead keys. Needs a store that keeps usage history.
     */
    async usage (options: { name?: string } = {}): Promise<KeyUsageReport> {
      const project = projectOf(this)
      const name = nameOf(options.name)
      const { mirror } = project
      const store = requireUsageHistory(mirror.options.store)
      const [state, history, retired] = await Promise.all([
        load(project),
        usageHistory(mirror, project.project),
        mirror.call('loadRetired', () => store.loadRetired(project.project))
      ])
      const key = findKey(state, name)
      if (key === undefined) {
        if (name === DEFAULT_KEY_NAME) throw anonKeyError('ANON_KEY_NOT_INITIALIZED', 'The project holds no anon key yet.')
        throw unknownName(name)
      }
      return keyUsageReport(key, retired, history, Date.now(), mirror.options.safeToRevokeAfterHours)
    }

    /**
     * Revokes one previous key by fingerprint, or every previous key of the name when none is given:
     * `revokePrevious(fingerprint?, { name?, actor? })`, or `revokePrevious({ name?, fingerprint? }, { actor? })`.
     */
    async revokePrevious (which?: string | { name?: string, fingerprint?: string }, context: KeyContext = {}): Promise<RevokeResult> {
      const project = projectOf(this)
      const options = typeof which === 'object' && which !== null ? which : { fingerprint: which, name: context.name }
      const name = nameOf(options.name)
      const fingerprint = options.fingerprint
      if (fingerprint !== undefined && !isFingerprint(fingerprint)) {
        throw anonKeyError('INVALID_INPUT', `fingerprint must be ${FINGERPRINT_LENGTH} lowercase hex characters`, {
          nextActions: 'Copy the fingerprint from the list of previous keys (GET /api/secrets/anon-key/previous or listPrevious()).'
        })
      }
      const now = Date.now()
      let revoked: PreviousKeyRecord[]
      try {
        revoked = (await change(project, 'revoke', (state) => revokePrevious(state, { name, now, fingerprint }), name)).revoked
      } catch (error: any) {
        // The seed's routes answer a project without keys as one without previous keys.
        if (name !== DEFAULT_KEY_NAME || error?.code !== 'ANON_KEY_NOT_INITIALIZED') throw error
        revoked = []
      }
      if (fingerprint !== undefined && revoked.length === 0) {
        throw anonKeyError('NOT_FOUND', `No previous key of "${name}" that still verifies has the fingerprint ${fingerprint}.`)
      }
      report(project, 'revoked', {
        ...where(project, name),
        actor: context.actor ?? null,
        scope: fingerprint === undefined ? 'all' : 'one',
        revoked: revoked.length,
        fingerprints: revoked.map((record) => fingerprintOfDigest(record.digest)),
        revokedAt: iso(now)
      }, 'previous anon keys revoked')
      return { success: true, revoked: revoked.length }
    }

    /** Every named key of the project, sorted by name, `default` included. */
    async listKeys (): Promise<AnonKeyInfo[]> {
      const project = projectOf(this)
      const [state, usage] = await Promise.all([load(project), usageView(project.mirror, project.project)])
      const now = Date.now()
      return state.keys.map((key) => anonKeyInfo(key, usage, now))
    }

    async getKey (name: string): Promise<AnonKeyInfo> {
      const project = projectOf(this)
      checkName(name)
      const [state, usage] = await Promise.all([load(project), usageView(project.mirror, project.project)])
      const key = findKey(state, name)
      if (key === undefined) throw unknownName(name)
      return anonKeyInfo(key, usage, Date.now())
    }

    /** Adds a key under a new name. 409 CONFLICT when the name exists or the project holds `maxKeys` names. */
    async createKey (options: CreateKeyOptions, context: ChangeContext = {}): Promise<AnonKeyInfo> {
      const project = projectOf(this)
      if (options === null || typeof options !== 'object') {
        throw anonKeyError('INVALID_INPUT', 'createKey takes { name, description?, allowedOrigins?, allowedApps?, requireAttestation?, rateLimit? }.', {
          nextActions: 'Call createKey({ name: \'web\' }).'
        })
      }
      checkName(options.name)
      const description = checkDescription(options.description) ?? ''
      const allowedOrigins = checkOrigins(options.allowedOrigins) ?? null
      const settings = checkSettings(project, options)
      const now = Date.now()
      const { key } = await change<{ key: NamedKey }>(project, 'createKey', (state) => {
        if (findKey(state, DEFAULT_KEY_NAME) === undefined) return { result: { refused: 'NOT_FOUND', message: 'no default key' } }
        return createKey(state, {
          name: options.name,
          key: generateAnonKey(),
          now,
          description,
          allowedOrigins,
          settings,
          maxKeys: project.mirror.options.maxKeys
        })
      }, DEFAULT_KEY_NAME)
      report(project, 'created', {
        ...where(project, key.name),
        actor: context.actor ?? null,
        fingerprint: fingerprintOf(key.currentKey),
        description,
        allowedOrigins,
        ...keySettingsInfo(key),
        createdAt: iso(now)
      }, 'anon key created')
      return anonKeyInfo(key, unusedView(project.mirror), now)
    }

    /** Changes a key's description or allowed origins (null lifts the restriction); its keys stay as they are. */
    async updateKey (name: string, changes: UpdateKeyOptions, context: ChangeContext = {}): Promise<AnonKeyInfo> {
      const project = projectOf(this)
      checkName(name)
      if (changes === null || typeof changes !== 'object' ||
        (changes.description === undefined && changes.allowedOrigins === undefined && KEY_SETTINGS.every((setting) => changes[setting] === undefined))) {
        throw anonKeyError('INVALID_INPUT', `Name at least one of description, allowedOrigins, ${KEY_SETTINGS.join(', ')} to change.`, {
          nextActions: 'Send { "description": "…" }, { "allowedOrigins": [...] | null }, or another setting to change.'
        })
      }
      const description = checkDescription(changes.description)
      const allowedOrigins = checkOrigins(changes.allowedOrigins)
      const settings = checkSettings(project, changes)
      const { key } = await change(project, 'updateKey', (state) => updateKey(state, { name, description, allowedOrigins, settings }), name)
      const now = Date.now()
      report(project, 'updated', {
        ...where(project, name),
        actor: context.actor ?? null,
        description: key.description,
        allowedOrigins: key.allowedOrigins,
        ...keySettingsInfo(key),
        updatedAt: iso(now)
      }, 'anon key updated')
      return anonKeyInfo(key, await usageView(project.mirror, project.project), now)
    }

    /** Deletes a name: its current and previous keys stop verifying at once (ANON_KEY_REVOKED). Not `default`. */
    async deleteKey (name: string, context: ChangeContext = {}): Promise<DeleteResult> {
      const project = projectOf(this)
      checkName(name)
      const now = Date.now()
      const { revoked } = await change(project, 'deleteKey', (state) => deleteKey(state, { name, now }), name)
      report(project, 'deleted', {
        ...where(project, name), actor: context.actor ?? null, fingerprints: revoked.map((record) => fingerprintOfDigest(record.digest)), deletedAt: iso(now)
      }, 'anon key deleted')
      return { success: true, deleted: name }
    }
  }
}

/** The operations on one tenant's keys: what `app.anonKey.forTenant(id)` returns. */
export class ProjectKeys extends KeyOperations(Object) {
  constructor (target: OperationsTarget) {
    super()
    aim(this, target)
  }
}

/**
 * Writes the first use of a rotated-in key (`entry`, current in the snapshot that verified it) once, whatever
 * the number of instances that see it at once: the change writes only while the key is current and its first
 * use unrecorded. Reports the grace it starts. Never awaited by a request; after a failure, logged, the key's
 * next verified request tries again (one write in flight at a time).
 */
export async function recordFirstUse (target: OperationsTarget & { project: string }, entry: ValidEntry, at: number): Promise<void> {
  const project: Project = { ...target, tenant: target.project === '' ? null : target.project }
  const { name, digest, fingerprint } = entry
  let result: { recorded: false } | { recorded: true, key: NamedKey }
  try {
    result = (await project.mirror.write('recordFirstUse', project.project, (state) => firstUseChange(state, { name, digest, at }))).result
  } catch (error) {
    project.mirror.log.warn({ err: error, ...where(project, name), fingerprint }, 'anon key first use not recorded; the next request with the key tries again')
    entry.awaitingFirstUse = true
    return
  }
  if (!result.recorded) return
  const { key } = result
  const graceStarted = withEffectiveExpiry(key)
    .filter((record, index) => key.previousKeys[index].graceMs !== undefined && isStillValid(key.previousKeys[index], at))
    .map((record) => ({ fingerprint: fingerprintOfDigest(record.digest), expiresAt: iso(record.expiresAt) }))
  report(project, 'firstUsed', { ...where(project, name), actor: null, fingerprint, firstUsedAt: iso(at), graceStarted }, 'anon key first used')
}

/** Creates `default` if the project has no key yet: a tenant's first admin request, with autoInitialize. */
export async function ensureInitialized (operations: ProjectKeys): Promise<void> {
  const { mirror, project } = projectOf(operations)
  if ((await mirror.cacheOf(project)).defaultKey === null) await operations.initialize()
}
