/** Edit distance between two strings (insertions, deletions, substitutions), case-insensitive. */
function editDistance (a: string, b: string): number {
  a = a.toLowerCase()
  b = b.toLowerCase()
  let row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    row = next
  }
  return row[b.length]
}

/**
 * The known name a mistyped one most likely meant. The option that sets the default of the typed name wins
 * (`gracePeriodHours` means `defaultGracePeriodHours`); then a known name that contains the typed one whole;
 * otherwise the nearest.
 */
export function closestName (typed: string, known: readonly string[]): string {
  const lower = typed.toLowerCase()
  const settingItsDefault = known.find((name) => name.toLowerCase() === 'default' + lower)
  if (settingItsDefault !== undefined) return settingItsDefault
  const containing = known.filter((name) => name.toLowerCase().includes(lower))
  const candidates = containing.length > 0 ? containing : known
  let best = candidates[0]
  let bestDistance = Infinity
  for (const name of candidates) {
    const distance = editDistance(typed, name)
    if (distance < bestDistance) {
      best = name
      bestDistance = distance
    }
  }
  return best
}
