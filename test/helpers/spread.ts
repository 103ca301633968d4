/**
 * "min …, median …, max … (N rounds)" of durations in ms, for the figures a test prints with t.comment.
 * (bench/stats.ts has a median too; importing it would put the bench under the tests' coverage gate.)
 */
export function spread (durations: number[]): string {
  const sorted = [...durations].sort((a, b) => a - b)
  const ms = (value: number): string => `${value.toFixed(1)} ms`
  return `min ${ms(sorted[0])}, median ${ms(sorted[sorted.length >> 1])}, max ${ms(sorted[sorted.length - 1])} (${sorted.length} rounds)`
}
