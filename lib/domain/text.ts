/**
 * A NUL character, or half of a UTF-16 surrogate pair without its other half. Neither is text: PostgreSQL refuses
 * both (in `text` and in `jsonb`), and a UTF-8 encoder turns a lone surrogate into U+FFFD, so what one store
 * keeps another would change or lose. Free text (a key's description, a store's namespace) is checked against it
 * before any store sees it; every other string a store keeps (names, origins, tenant ids, fingerprints) has a
 * pattern that admits neither.
 */
// eslint-disable-next-line no-control-regex -- finding the NUL character is the point
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** What is wrong with `value` as text a store can keep, naming `field`, or null. Pure. */
export function unstorableTextProblem (field: string, value: string): string | null {
  const found = UNSTORABLE.exec(value)
  if (found === null) return null
  const unit = found[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')
  const what = unit === '0000' ? 'a NUL character (U+0000)' : `half of a surrogate pair without its other half (U+${unit})`
  return `${field} contains ${what} at position ${found.index}: it is not text any store can keep.`
}
