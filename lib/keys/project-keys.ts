import { digestOf, fingerprintOfDigest, isAnonKey } from '../domain/key.js'
import { DEFAULT_KEY_NAME } from '../domain/names.js'
import { clientRules, type ClientRefusal, type ClientRules } from '../domain/client-rules.js'
import type { RateLimit } from '../domain/rate-limit.js'
import { rememberRateLimit } from './key-limits.js'
import type { PreviousKeyRecord, ProjectState, RetiredKeyRecord } from '../domain/project.js'
import { RETIRED_RETENTION_MS, retiredAt } from '../domain/retention.js'
import { withEffectiveExpiry } from '../domain/first-use.js'
import type { KeyTally } from '../domain/usage.js'
import { projectProblem } from '../domain/snapshot-check.js'
import type { RejectionCode } from '../errors/rejection.js'
import type { ProjectSnapshot } from '../stores/interface.js'

/** What a request that carries a valid anon key gets as `request.anonKey`. */
export interface AnonKeyIdentity {
  role: 'anon'
  /** The name of the key: `default`, or one made with createKey (`web`, `ios`). */
  name: string
  fingerprint: string
  /** ISO 8601 instant the key stops verifying; null for a current key. */
  expiresAt: string | null
  /** The tenant the key belongs to; only in tenant mode. */
  tenant?: string
}

/**
 * What `lookup` answers for a well-formed key that the document does not know while the project's retired keys
 * are not loaded: load them (`loadRetired`) and look again.
 */
export const NEEDS_RETIRED: unique symbol = Symbol('fastify-anon-key.needsRetired')

export type VerifyResult = ({ valid: true } & AnonKeyIdentity) | { valid: false, code: RejectionCode | ClientRefusal }

/**
 * A key that verifies, with both answers built once so that verifying allocates nothing. It is also the key's
 * tally: a verification adds one to `requests` (see keys/judge.ts `pass`).
 */
export interface ValidEntry extends KeyTally {
  identity: Readonly<AnonKeyIdentity>
  result: Readonly<VerifyResult>
  /** What the key asks of its client (origins, apps, attestation), or null when nothing. */
  rules: ClientRules | null
  /** Where the project's verifications are counted. */
  readonly uses: UseCounter
  /** A rotated-in current key whose first use is not recorded yet: the first request that verifies reports it. */
  awaitingFirstUse: boolean
}

/**
 * Where one project's verdicts are counted (the Mirror's usage counters and metrics). Told only what the verdict
 * path saw, without a clock: a tally's first request since its counts were taken, a first use, a refusal.
 */
export interface UseCounter {
  /** A key's first verified request since its tally was last taken: the tally is listed for the next take. */
  counting (entry: ValidEntry): void
  /** The first verification this instance saw of a rotated-in key (see ValidEntry.awaitingFirstUse). */
  firstUse (entry: ValidEntry): void
  /** A request refused for its key: unknown (`digest` null), or known to the project but no longer valid. */
  refusedKey (code: RejectionCode, digest: string | null): void
  /** A request refused, although its key is valid, for what the key asks of its client. */
  refusedClient (entry: ValidEntry, code: ClientRefusal): void
}

interface PreviousEntry {
  record: PreviousKeyRecord
  /** The name the key belongs to; null for a key of a deleted name, which only ever answers ANON_KEY_REVOKED. */
  name: string | null
  rules: ClientRules | null
  rateLimit: RateLimit | null
  /** Built on the first request that verifies with it: most records are retired keys that never verify again. */
  valid: ValidEntry | null
}

function validEntry (name: string, digest: string, expiresAt: number | null, rules: ClientRules | null, rateLimit: RateLimit | null,
  tenant: string | null, uses: UseCounter): ValidEntry {
  const fingerprint = fingerprintOfDigest(digest)
  const identity: AnonKeyIdentity = {
    role: 'anon' as const,
    name,
    fingerprint,
    expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString()
  }
  if (tenant !== null) identity.tenant = tenant
  Object.freeze(identity)
  if (rateLimit !== null) rememberRateLimit(identity, rateLimit)
  return {
    identity,
    result: Object.freeze({ valid: true as const, ...identity }),
    rules,
    name,
    fingerprint,
    digest,
    previous: expiresAt !== null,
    requests: 0,
    uses,
    awaitingFirstUse: false
  }
}

/**
 * One project's keys as every verification reads them: the current key of every name, and the previous keys
 * of every name (and of deleted names) by digest. It never calls the store itself.
 *
 * Timing: a current key is found with a Map keyed by the key itself, and a Map lookup hashes the whole string
 * before it compares anything, so how much of a wrong key matches does not change the time taken. Previous
 * keys are known only by their SHA-256 digest, so a presented key is hashed and looked up by digest.
 * verifyAnonKey's fast path, `currentForHeader`, is the same kind of lookup keyed by the whole header value
 * "Bearer <current key>": one hash of the header, no slice, no clock read (a current key never expires).
 *
 * Retired keys (expired or revoked, kept apart from the document by the store) are loaded lazily, on the first
 * well-formed key that the document does not know, and kept until the project changes. Why lazily rather than
 * with every snapshot: a snapshot is taken after every change, in every instance, and the retired keys can be
 * 1,000 records, while a retired key is presented rarely. A flood of unknown keys costs one load per version of
 * the project, shared by every request that waits for it, then Map lookups.
 */
export class KeyCache {
  version = -1
  /** The freshness epoch of the last reload (see Mirror): a cache of an older epoch is reloaded on its next use. */
  epoch = 0
  /** When the snapshot held was asked for (see Mirror.take): a load that started earlier never replaces it. */
  ticket = -1
  /** The project's document as last taken. */
  state: ProjectState = { keys: [] }
  private current = new Map<string, ValidEntry>()
  /** The current keys' entries again, keyed by the header value "Bearer <current key>". */
  private currentHeader = new Map<string, ValidEntry>()
  private previous = new Map<string, PreviousEntry>()
  /** The project's retired keys by digest, or null until they are loaded for this version. */
  private retired: Map<string, RetiredKeyRecord> | null = null
  /** The load of the retired keys for this version, shared by the requests that wait for it. */
  private retiredLoad: Promise<void> | null = null
  /** Whether that load failed: retried after the next snapshot, not on every request. */
  private retiredFailed = false
  /** The tenant whose keys these are, or null for the single project. */
  readonly tenant: string | null
  /** Where the verdicts on this project's keys are counted. */
  private readonly uses: UseCounter

  constructor (tenant: string | null, uses: UseCounter) {
    this.tenant = tenant
    this.uses = uses
  }

  /** The revision of the document held (see domain/revision.ts). */
  get revision (): string | undefined {
    return this.state.revision
  }

  /** Whether the project holds any key at all (a tenant without keys is cached as such). */
  get hasKeys (): boolean {
    return this.state.keys.length > 0
  }

  /** The current key of `default`, or null. */
  get defaultKey (): string | null {
    return this.state.keys.find((key) => key.name === DEFAULT_KEY_NAME)?.currentKey ?? null
  }

  /**
   * Takes a snapshot: whether it should replace the one held is the Mirror's rule, not the cache's. A malformed
   * snapshot throws a TypeError naming what is wrong and leaves the cache exactly as it was: the new maps are
   * built aside, then swapped in.
   */
  apply (snapshot: ProjectSnapshot): void {
    const problem = projectProblem(snapshot)
    if (problem !== null) throw new TypeError(`malformed anon key snapshot: ${problem}`)
    const current = new Map<string, ValidEntry>()
    const currentHeader = new Map<string, ValidEntry>()
    const previous = new Map<string, PreviousEntry>()
    for (const key of snapshot.state.keys) {
      const rules = clientRules(key)
      const rateLimit = key.rateLimit ?? null
      const entry = validEntry(key.name, digestOf(key.currentKey), null, rules, rateLimit, this.tenant, this.uses)
      entry.awaitingFirstUse = key.currentKeyFirstUsedAt === null
      current.set(key.currentKey, entry)
      currentHeader.set(`Bearer ${key.currentKey}`, entry)
      // Retention is judged at lookup (refusalOf), so a record past it is kept here until the next change.
      for (const record of withEffectiveExpiry(key)) previous.set(record.digest, { record, name: key.name, rules, rateLimit, valid: null })
    }
    for (const record of snapshot.state.deletedKeys ?? []) {
      if (!previous.has(record.digest)) previous.set(record.digest, { record, name: null, rules: null, rateLimit: null, valid: null })
    }
    this.forgetRetired()
    this.version = snapshot.version
    this.state = snapshot.state
    this.current = current
    this.currentHeader = currentHeader
    this.previous = previous
  }

  /** The same document was read again: retired keys whose load failed get another try. */
  reread (): void {
    if (this.retiredFailed) this.forgetRetired()
  }

  /** Drops the retired keys held or being loaded: the next unknown key loads them again. */
  private forgetRetired (): void {
    this.retired = null
    this.retiredLoad = null
    this.retiredFailed = false
  }

  /** A current key's entry when `header` is exactly "Bearer <current key>", else undefined: the hook's fast path. */
  currentForHeader (header: string | undefined): ValidEntry | undefined {
    return this.currentHeader.get(header as string)
  }

  /**
   * The valid entry for `key`, or why it is refused, or NEEDS_RETIRED when only the retired keys, not loaded yet,
   * can tell. Expiry is judged against `now`, never cached.
   */
  lookup (key: unknown, now: number): ValidEntry | RejectionCode | typeof NEEDS_RETIRED {
    const entry = this.current.get(key as string)
    if (entry !== undefined) return entry
    if (!isAnonKey(key)) return this.refused('AUTH_INVALID_CREDENTIALS', null)
    const digest = digestOf(key)
    const previous = this.previous.get(digest)
    if (previous === undefined) return this.retiredRefusal(digest, now)
    const { record, name } = previous
    if (name !== null && record.revokedAt === null && now < record.expiresAt) {
      previous.valid ??= validEntry(name, record.digest, record.expiresAt, previous.rules, previous.rateLimit, this.tenant, this.uses)
      return previous.valid
    }
    return this.refused(refusalOf(record, now), digest)
  }

  /** `lookup` once the retired keys were loaded. Still not known means the project changed meanwhile: refused. */
  lookupLoaded (key: unknown, now: number): ValidEntry | RejectionCode {
    const entry = this.lookup(key, now)
    return entry === NEEDS_RETIRED ? this.refused('AUTH_INVALID_CREDENTIALS', null) : entry
  }

  /**
   * Loads the retired keys through `load` unless they are held or being loaded: concurrent callers share one
   * load. Never rejects. What a load brings is dropped if the project changed meanwhile; a failed load leaves
   * unknown keys refused as AUTH_INVALID_CREDENTIALS until the next snapshot, so that a flood of them with the
   * store down costs no store call per request.
   */
  loadRetired (load: () => Promise<RetiredKeyRecord[]>): Promise<void> {
    if (this.retiredLoad !== null) return this.retiredLoad
    const loading: Promise<void> = load().then((records) => {
      if (this.retiredLoad === loading) this.retired = new Map(records.map((record) => [record.digest, record]))
    }, () => {
      if (this.retiredLoad !== loading) return
      this.retired = new Map()
      this.retiredFailed = true
    })
    this.retiredLoad = loading
    return loading
  }

  private retiredRefusal (digest: string, now: number): RejectionCode | typeof NEEDS_RETIRED {
    // A project without keys never retired one (`default` cannot be deleted): nothing to load.
    if (this.retired === null) return this.hasKeys ? NEEDS_RETIRED : this.refused('AUTH_INVALID_CREDENTIALS', null)
    const record = this.retired.get(digest)
    return record === undefined ? this.refused('AUTH_INVALID_CREDENTIALS', null) : this.refused(refusalOf(record, now), digest)
  }

  /** Every refusal of a key is counted here, once, whoever asked (verifyAnonKey or `verify()`). */
  private refused (code: RejectionCode, digest: string | null): RejectionCode {
    this.uses.refusedKey(code, digest)
    return code
  }
}

/** Why a key that does not verify is refused: expired or revoked within retention, else unknown. */
function refusalOf (record: PreviousKeyRecord, now: number): RejectionCode {
  if (now - retiredAt(record) >= RETIRED_RETENTION_MS) return 'AUTH_INVALID_CREDENTIALS'
  return record.revokedAt === null ? 'ANON_KEY_EXPIRED' : 'ANON_KEY_REVOKED'
}
