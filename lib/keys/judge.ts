import { clientRefusal, type AttestationCheck, type ClientInputs, type ClientRefusal } from '../domain/client-rules.js'
import type { RejectionCode } from '../errors/rejection.js'
import { NEEDS_RETIRED, type KeyCache, type ValidEntry } from './project-keys.js'

/** Why a key is refused, when the key or what it asks of its client is the reason. */
export type KeyRefusal = RejectionCode | ClientRefusal

/** The one verdict on a presented key: its valid entry, or why it is refused. */
export type Verdict = ValidEntry | KeyRefusal

/** Loads a project's retired keys into its cache; never rejects. */
export type RetiredLoader = (cache: KeyCache) => Promise<void>

/**
 * What a judgement needs beyond the key, the same for every request of one caller (the hook, or `verify()`):
 * built once, so that judging allocates nothing.
 */
export interface Judging<S> {
  loadRetired: RetiredLoader
  /** Checks attestation tokens; null without the `attestation` option. */
  attest: AttestationCheck | null
  /** What the key's rules read of a request's source (its headers, or verify()'s context), for a key with rules. */
  inputsOf: (source: S) => ClientInputs
}

/**
 * A valid key lets its request through: counted here, once, whichever way it was found (verifyAnonKey's fast
 * path, the judge, `verify()`). One increment: which hour it falls in is decided when the counts are taken (see
 * Mirror.closeUsage), so no clock is read and nothing is allocated. A rotated-in key's first request is reported.
 */
export function pass (entry: ValidEntry): ValidEntry {
  if (entry.requests++ === 0) entry.uses.counting(entry)
  if (entry.awaitingFirstUse) {
    entry.awaitingFirstUse = false
    entry.uses.firstUse(entry)
  }
  return entry
}

/** A valid key refused for what it asks of its client: counted by key and code. */
function refuseClient (entry: ValidEntry, code: ClientRefusal): ClientRefusal {
  entry.uses.refusedClient(entry, code)
  return code
}

/**
 * What a valid key asks of its client (origins, apps, attestation), judged against the request's `source`.
 * No source (a script's `verify(key)`): the key alone is judged, as a server-side check with no client to
 * restrict. Synchronous unless an attestation token has to be verified; `request` goes to the host's
 * `attestation.verify(token, request)`.
 */
export function admit<S> (entry: ValidEntry, judging: Judging<S>, source: S | undefined, request?: unknown): Verdict | Promise<Verdict> {
  if (entry.rules === null || source === undefined) return pass(entry)
  const refusal = clientRefusal(entry.rules, judging.inputsOf(source), judging.attest, request)
  if (refusal === null) return pass(entry)
  if (typeof refusal === 'string') return refuseClient(entry, refusal)
  return refusal.then((code) => code === null ? pass(entry) : refuseClient(entry, code))
}

function judgeCached<S> (cache: KeyCache, key: unknown, judging: Judging<S>, source: S | undefined, request: unknown,
  loaded: boolean): Verdict | Promise<Verdict> | typeof NEEDS_RETIRED {
  const entry = loaded ? cache.lookupLoaded(key, Date.now()) : cache.lookup(key, Date.now())
  return typeof entry === 'object' ? admit(entry, judging, source, request) : entry
}

/**
 * The verdict on `key` for one project, the same for verifyAnonKey and `verify()`: from the cache, with no store
 * call, except that a well-formed key the document does not know waits for the project's retired keys (loaded
 * once per version of the project and shared by every caller that waits). Synchronous whenever it can be.
 */
export function judge<S> (cache: KeyCache, key: unknown, judging: Judging<S>, source: S | undefined, request?: unknown): Verdict | Promise<Verdict> {
  const verdict = judgeCached(cache, key, judging, source, request, false)
  if (verdict !== NEEDS_RETIRED) return verdict
  // A change taken while the retired keys loaded (a first-use write, another instance's rotation) drops them with
  // the old document: they are loaded once more for the new one before the key is called unknown.
  return judging.loadRetired(cache).then(() => {
    const again = judgeCached(cache, key, judging, source, request, false)
    if (again !== NEEDS_RETIRED) return again
    return judging.loadRetired(cache).then(() => judgeCached(cache, key, judging, source, request, true) as Verdict | Promise<Verdict>)
  })
}
