/**
 * Polls `condition` every `pollMs` (default 5) until it holds, and resolves to the time it took; throws
 * "<what> did not happen within <ms> ms" once `ms` have passed since `started` (default: now). The one wait
 * helper of the tests: a bound is generous (the machine is shared), never a measurement.
 */
export async function eventually (
  what: string,
  condition: () => boolean | Promise<boolean>,
  ms: number,
  { pollMs = 5, started = performance.now() }: { pollMs?: number, started?: number } = {}
): Promise<number> {
  while (!(await condition())) {
    if (performance.now() - started > ms) throw new Error(`${what} did not happen within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, pollMs))
  }
  return performance.now() - started
}

/** Waits `ms` of real time: for a test that must show that something does NOT happen within a bound. */
export function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
