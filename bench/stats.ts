/** Small statistics and formatting helpers for the benchmark. */

export function percentile (values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]
}

export function median (values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/** 1234567 → "1,234,567"; keeps `digits` decimals. */
export function formatNumber (value: number, digits = 0): string {
  if (!Number.isFinite(value)) return 'n/a'
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

export function formatMs (value: number): string {
  if (!Number.isFinite(value)) return 'n/a'
  return value < 10 ? `${value.toFixed(2)} ms` : `${value.toFixed(1)} ms`
}

export function formatBytes (value: number): string {
  const sign = value < 0 ? '-' : ''
  const size = Math.abs(value)
  if (size >= 1024 * 1024) return `${sign}${(size / 1024 / 1024).toFixed(2)} MiB`
  if (size >= 1024) return `${sign}${(size / 1024).toFixed(1)} KiB`
  return `${sign}${size.toFixed(0)} B`
}

/** A Markdown table, columns padded so that it also reads well in a terminal. */
export function table (header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => row[column].length)))
  const line = (cells: readonly string[]): string => `| ${cells.map((cell, column) => cell.padEnd(widths[column])).join(' | ')} |`
  return [line(header), `| ${widths.map((width) => '-'.repeat(width)).join(' | ')} |`, ...rows.map(line)].join('\n')
}
