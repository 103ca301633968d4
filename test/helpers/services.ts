/**
 * Where the real PostgreSQL and Redis are. Without DATABASE_URL / REDIS_URL the defaults of the development
 * machine are tried; a test that cannot reach one skips with a visible message, except under CI=true, where
 * a missing service fails the run.
 */
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
export const IN_CI = process.env.CI === 'true'

/** A namespace no other test file or run uses, so test files can run in parallel on one server. */
export function uniqueNamespace (label: string): string {
  return `${label}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
}

/** What the service helpers need of a tap test: somewhere to stop what they started (the bench passes its own). */
export interface Teardown {
  teardown (fn: () => unknown): void
}
