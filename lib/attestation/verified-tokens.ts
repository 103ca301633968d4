import { Lru } from '../keys/lru.js'

/** How many of a token's last characters it is looked up by. */
const TAIL_LENGTH = 64

interface Verified {
  token: string
  expiresAt: number
}

const tailOf = (token: string): string => token.length <= TAIL_LENGTH ? token : token.slice(-TAIL_LENGTH)

/**
 * The attestation tokens verified, each until it expires, at most `limit` (the least recently used go first).
 *
 * Looked up by the token's last 64 characters, then compared whole. V8 hashes a string over every character, and
 * a Map lookup by a whole App Check token (about 900 characters, a new string on every request) cost about 1.3 µs,
 * several times the rest of the verification (bench/README.md); a comparison of two equal strings costs tens of
 * nanoseconds. The end of a signed or encrypted token is its signature or tag, which differs from token to token;
 * two valid tokens that share their tail take each other's place and are verified again, never confused.
 */
export class VerifiedTokens {
  private readonly entries: Lru<Verified>

  constructor (limit: number) {
    this.entries = new Lru(limit)
  }

  /** When the token expires, if it was verified and is still kept. */
  get (token: string): number | undefined {
    const entry = this.entries.get(tailOf(token))
    return entry !== undefined && entry.token === token ? entry.expiresAt : undefined
  }

  set (token: string, expiresAt: number): void {
    this.entries.set(tailOf(token), { token, expiresAt })
  }

  /** Forgets an expired token (the caller has just found it kept). */
  delete (token: string): void {
    this.entries.delete(tailOf(token))
  }
}
