/**
 * Whether an `xn--` host label is an internationalised name: its punycode (RFC 3492) decodes, and to something
 * a name may hold. Written here rather than asked of `node:url`, whose `domainToASCII` rejected a bad `xn--`
 * label on Node 20 and 22 and returns it unchanged on Node 24: an origin must be valid or not on every Node.
 */

const BASE = 36
const T_MIN = 1
const T_MAX = 26
const SKEW = 38
const DAMP = 700
const INITIAL_BIAS = 72
const INITIAL_N = 0x80
const MAX_INT = 0x7fffffff
const MAX_CODE_POINT = 0x10ffff

/** a-z are the digits 0 to 25, 0-9 are 26 to 35; anything else is no digit. */
function digitOf (code: number): number {
  if (code >= 0x61 && code <= 0x7a) return code - 0x61
  if (code >= 0x30 && code <= 0x39) return code - 0x30 + 26
  return -1
}

function adapt (delta: number, points: number, first: boolean): number {
  delta = first ? Math.floor(delta / DAMP) : delta >> 1
  delta += Math.floor(delta / points)
  let k = 0
  while (delta > ((BASE - T_MIN) * T_MAX) >> 1) {
    delta = Math.floor(delta / (BASE - T_MIN))
    k += BASE
  }
  return k + Math.floor(((BASE - T_MIN + 1) * delta) / (delta + SKEW))
}

/** The code points a punycode string (lowercase, without `xn--`) stands for, or null when it does not decode. */
export function decodePunycode (input: string): number[] | null {
  const delimiter = input.lastIndexOf('-')
  const output: number[] = []
  for (let index = 0; index < delimiter; index += 1) output.push(input.charCodeAt(index))
  let n = INITIAL_N
  let i = 0
  let bias = INITIAL_BIAS
  for (let index = delimiter > 0 ? delimiter + 1 : 0; index < input.length;) {
    const start = i
    let weight = 1
    for (let k = BASE; ; k += BASE) {
      if (index >= input.length) return null
      const digit = digitOf(input.charCodeAt(index++))
      if (digit === -1 || digit > Math.floor((MAX_INT - i) / weight)) return null
      i += digit * weight
      const threshold = k <= bias ? T_MIN : k >= bias + T_MAX ? T_MAX : k - bias
      if (digit < threshold) break
      // No overflow check needed: numbers are doubles, and a weight past MAX_INT fails the check above for any
      // next digit but 0, which ends the number (0 is below every threshold) and adds nothing.
      weight *= BASE - threshold
    }
    const length = output.length + 1
    bias = adapt(i - start, length, start === 0)
    n += Math.floor(i / length)
    if (n > MAX_CODE_POINT) return null
    i %= length
    output.splice(i, 0, n)
    i += 1
  }
  return output
}

/** Controls, surrogates, private use and unassigned code points: never part of a name. */
const NOT_IN_A_NAME = /[\p{Cc}\p{Cs}\p{Co}\p{Cn}]/u
/** A label may not begin with a combining mark: it would combine with the dot before it. */
const LEADING_MARK = /^\p{M}/u

/**
 * Whether `label` (lowercase, starting with `xn--`) decodes to a name: punycode that ends where it should, with at
 * least one character outside ASCII (a name in ASCII alone is written as is), none that is no character of a name,
 * not beginning with a combining mark, and already in the form a browser writes a name in (lowercase,
 * compatibility-normalised: no `Ü`, no `㎞`).
 */
export function isPunycodeLabel (label: string): boolean {
  const decoded = decodePunycode(label.slice(4))
  if (decoded === null || !decoded.some((code) => code >= INITIAL_N)) return false
  const name = String.fromCodePoint(...decoded)
  return !NOT_IN_A_NAME.test(name) && !LEADING_MARK.test(name) && name === name.normalize('NFKC').toLowerCase()
}
