/**
 * Polls `condition` every few ms until it holds; throws, naming `what`, once `timeoutMs` passed since `started`.
 * Resolves to the time since `started` in ms: how long another instance took to see a change.
 */
export async function within (what: string, timeoutMs: number, condition: () => Promise<boolean>, started = performance.now()): Promise<number> {
  while (!(await condition())) {
    if (performance.now() - started > timeoutMs) throw new Error(`${what} did not happen within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  return performance.now() - started
}

/** min, median and max of some durations in ms, for a t.comment. */
export function spread (durations: number[]): string {
  const sorted = [...durations].sort((a, b) => a - b)
  const ms = (value: number): string => `${value.toFixed(1)} ms`
  return `min ${ms(sorted[0])}, median ${ms(sorted[Math.floor(sorted.length / 2)])}, max ${ms(sorted[sorted.length - 1])} (${sorted.length} rounds)`
}
