import type { RejectionCode } from '../errors/rejection.js'
import { NEEDS_RETIRED, type KeyCache, type ValidEntry } from './project-keys.js'

/**
 * The request headers a key's restrictions are judged by. Absent (a script's `verify(key)`): the key alone is
 * judged, as a server-side check that has no browser to restrict.
 */
export interface RequestHeaders {
  origin?: string
  referer?: string
}

/** Why a key is refused, when the key itself is the reason. */
export type KeyRefusal = RejectionCode | 'ANON_KEY_ORIGIN_NOT_ALLOWED'

/** The one verdict on a presented key: its valid entry, or why it is refused. */
export type Verdict = ValidEntry | KeyRefusal

/** Loads a project's retired keys into its cache; never rejects. */
export type RetiredLoader = (cache: KeyCache) => Promise<void>

/** A valid key's restrictions, judged against the request's headers (none given: no restriction applies). */
export function admit (entry: ValidEntry, headers: RequestHeaders | undefined): Verdict {
  if (headers === undefined || entry.origins === null || entry.origins.allows(headers.origin, headers.referer)) return entry
  return 'ANON_KEY_ORIGIN_NOT_ALLOWED'
}

function judgeCached (cache: KeyCache, key: unknown, headers: RequestHeaders | undefined, loaded: boolean): Verdict | typeof NEEDS_RETIRED {
  const entry = loaded ? cache.lookupLoaded(key, Date.now()) : cache.lookup(key, Date.now())
  return typeof entry === 'object' ? admit(entry, headers) : entry
}

/**
 * The verdict on `key` for one project, the same for verifyAnonKey and `verify()`: from the cache, with no store
 * call, except that a well-formed key the document does not know waits for the project's retired keys (loaded
 * once per version of the project and shared by every caller that waits). Synchronous whenever it can be.
 */
export function judge (cache: KeyCache, key: unknown, headers: RequestHeaders | undefined, loadRetired: RetiredLoader): Verdict | Promise<Verdict> {
  const verdict = judgeCached(cache, key, headers, false)
  if (verdict !== NEEDS_RETIRED) return verdict
  return loadRetired(cache).then(() => judgeCached(cache, key, headers, true) as Verdict)
}
