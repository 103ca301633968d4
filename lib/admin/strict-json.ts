/**
 * What JSON.parse forgives and an admin body must not: a property named twice (JSON.parse keeps the last,
 * so `{"gracePeriodHours": 720, "gracePeriodHours": 0}` would cut every client off while a proxy that reads
 * the first sees 720), and a number written with a fraction or an exponent (`1e-400` parses to 0, `24.0` to 24:
 * the contract accepts only whole numbers, written as such). Returns what is wrong with `text`, or null.
 * `text` must already have parsed to `value`.
 */
export function strictJsonProblem (text: string, value: unknown): string | null {
  const pieces = text.match(/"(?:[^"\\]|\\.)*"|[^"]+/g) as string[]
  let names = 0
  for (const [index, piece] of pieces.entries()) {
    if (piece.startsWith('"')) {
      if (/^\s*:/.test(pieces[index + 1] ?? '')) names += 1
    } else if (/[.eE]/.test(piece.replace(/true|false|null/g, ''))) {
      return 'Numbers must be whole and written without a fraction or an exponent.'
    }
  }
  return names === propertyCount(value) ? null : 'The body names a property twice.'
}

/**
 * How many properties `value` holds, at every depth. Walks with its own stack, not recursion: JSON.parse
 * accepts nesting far deeper than the call stack, so a recursive count would overflow on a hostile body.
 */
function propertyCount (value: unknown): number {
  let count = 0
  const pending: unknown[] = [value]
  while (pending.length > 0) {
    const next = pending.pop()
    if (next === null || typeof next !== 'object') continue
    const children = Object.values(next)
    if (!Array.isArray(next)) count += children.length
    for (const child of children) pending.push(child)
  }
  return count
}
