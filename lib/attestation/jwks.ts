import { createPublicKey } from 'node:crypto'

/** At most one fetch in this time, whatever unknown `kid`s tokens name: a flood of forged tokens costs one fetch. */
export const JWKS_REFETCH_INTERVAL_MS = 60_000
/** Keys older than this are fetched again on the next use (Firebase asks for no more than 6 hours); kept if that fails. */
export const JWKS_MAX_AGE_MS = 6 * 60 * 60 * 1000
/** The largest JWKS document read. */
const MAX_JWKS_BYTES = 512 * 1024

export interface JwksLogger {
  warn: (object: object, message: string) => void
}

/** Reads a response body as text, refusing one beyond `limit` bytes without reading the rest. */
async function boundedText (response: Response, limit: number): Promise<string> {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > limit) {
      await reader.cancel()
      throw new Error(`the JWKS is larger than ${limit} bytes`)
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** The RS256 signing keys of a JWKS document, as PEM by `kid`. Entries of other kinds are skipped. */
export function rsaKeysOf (document: unknown): Map<string, string> {
  const keys = new Map<string, string>()
  const entries = (document as { keys?: unknown })?.keys
  if (!Array.isArray(entries)) throw new Error('the JWKS has no keys array')
  for (const jwk of entries) {
    if (jwk === null || typeof jwk !== 'object' || jwk.kty !== 'RSA' || typeof jwk.kid !== 'string') continue
    if ((jwk.use !== undefined && jwk.use !== 'sig') || (jwk.alg !== undefined && jwk.alg !== 'RS256')) continue
    try {
      keys.set(jwk.kid, createPublicKey({ key: { kty: 'RSA', n: jwk.n, e: jwk.e }, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string)
    } catch {
      // A malformed key is skipped; the others still serve.
    }
  }
  if (keys.size === 0) throw new Error('the JWKS holds no RS256 key')
  return keys
}

/**
 * A provider's signing keys, fetched on first use and again for a `kid` they do not hold, at most once per
 * JWKS_REFETCH_INTERVAL_MS; concurrent callers share one fetch. A fetch that fails, times out or brings garbage
 * leaves the keys as they were (none at first: every token is refused until a fetch succeeds). Never rejects.
 */
export class JwksKeys {
  private keys = new Map<string, string>()
  private fetchedAt = -Infinity
  private attemptedAt = -Infinity
  private fetching: Promise<void> | null = null
  /** Fetches started, for tests and logs. */
  fetches = 0

  constructor (private readonly url: string, private readonly timeoutMs: number, private readonly log: JwksLogger) {}

  /** The PEM key of `kid`, or null when the provider has none (or cannot be reached). */
  async keyFor (kid: unknown): Promise<string | null> {
    if (typeof kid !== 'string') return null
    const now = Date.now()
    const known = this.keys.get(kid)
    const stale = now - this.fetchedAt >= JWKS_MAX_AGE_MS
    if (known !== undefined && !stale) return known
    if (this.fetching === null && now - this.attemptedAt >= JWKS_REFETCH_INTERVAL_MS) {
      this.attemptedAt = now
      this.fetching = this.fetch().finally(() => { this.fetching = null })
    }
    if (this.fetching !== null) await this.fetching
    return this.keys.get(kid) ?? null
  }

  private async fetch (): Promise<void> {
    this.fetches += 1
    try {
      const response = await fetch(this.url, { signal: AbortSignal.timeout(this.timeoutMs), headers: { accept: 'application/json' } })
      if (response.status !== 200) {
        await response.body?.cancel()
        throw new Error(`the JWKS endpoint answered ${response.status}`)
      }
      this.keys = rsaKeysOf(JSON.parse(await boundedText(response, MAX_JWKS_BYTES)))
      this.fetchedAt = Date.now()
    } catch (error) {
      this.log.warn({ err: error, jwksUrl: this.url }, 'anon key attestation: the JWKS could not be fetched; tokens signed by keys not held are refused')
    }
  }
}
