import { median } from '../../bench/stats.js'

/** "min …, median …, max … (N rounds)" of durations in ms, for the figures a test prints with t.comment. */
export function spread (durations: number[]): string {
  const ms = (value: number): string => `${value.toFixed(1)} ms`
  return `min ${ms(Math.min(...durations))}, median ${ms(median(durations))}, max ${ms(Math.max(...durations))} (${durations.length} rounds)`
}
