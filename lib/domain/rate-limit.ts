/** A per-key rate limit: at most `max` requests per `timeWindowMs`. */
export interface RateLimit {
  max: number
  timeWindowMs: number
}

export const MAX_RATE_LIMIT_MAX = 1_000_000_000
/** The longest window: what a timer can wait (about 24.8 days). */
export const MAX_RATE_LIMIT_WINDOW_MS = 2 ** 31 - 1

export const RATE_LIMIT_SHAPE = `must be null or an object { "max": 1 to ${MAX_RATE_LIMIT_MAX}, "timeWindowMs": 1 to ${MAX_RATE_LIMIT_WINDOW_MS} }, ` +
  'both whole numbers, such as { "max": 100, "timeWindowMs": 60000 }'

const isWhole = (value: unknown, max: number): value is number => Number.isInteger(value) && (value as number) >= 1 && (value as number) <= max

/** Checks a `rateLimit` value (null for none) and returns it as a fresh object, or what is wrong with it. */
export function normaliseRateLimit (value: unknown, where = 'rateLimit'): { rateLimit: RateLimit | null } | { problem: string } {
  if (value === null) return { rateLimit: null }
  if (typeof value !== 'object' || Array.isArray(value)) return { problem: `${where} ${RATE_LIMIT_SHAPE}` }
  const extra = Object.keys(value).find((name) => name !== 'max' && name !== 'timeWindowMs')
  if (extra !== undefined) return { problem: `${where} has the unknown property ${JSON.stringify(extra.slice(0, 64))}: it takes max and timeWindowMs` }
  const { max, timeWindowMs } = value as Record<string, unknown>
  if (!isWhole(max, MAX_RATE_LIMIT_MAX)) return { problem: `${where}.max must be a whole number from 1 to ${MAX_RATE_LIMIT_MAX}, got ${JSON.stringify(max) ?? 'nothing'}` }
  if (!isWhole(timeWindowMs, MAX_RATE_LIMIT_WINDOW_MS)) {
    return { problem: `${where}.timeWindowMs must be a whole number of milliseconds from 1 to ${MAX_RATE_LIMIT_WINDOW_MS}, got ${JSON.stringify(timeWindowMs) ?? 'nothing'}` }
  }
  return { rateLimit: { max, timeWindowMs } }
}
