/**
 * A clock for tests: replaces Date.now (the only clock the plugin reads) with one that moves only when told.
 * Timers (setTimeout, setInterval) keep real time, so store timeouts and bounded waits still work.
 */
export interface FakeClock {
  now (): number
  set (ms: number): void
  advance (ms: number): void
  restore (): void
}

export function fakeDateNow (start: number): FakeClock {
  const original = Date.now
  let now = start
  Date.now = () => now
  return {
    now: () => now,
    set (ms) { now = ms },
    advance (ms) { now += ms },
    restore () { Date.now = original }
  }
}

/** 2030-01-01T00:00:00Z: far from the real clock, so a test that reads the real clock by mistake shows. */
export const CLOCK_START = Date.UTC(2030, 0, 1)

export const HOUR_MS = 60 * 60 * 1000
