import { isPunycodeLabel } from './punycode.js'

/**
 * Origins for `allowedOrigins` (CONTRACT.md section 9): parsing an entry into its one normal form, reading the
 * origin of a request, and the matcher that the hook runs. Pure: no URL parser at request time for an origin
 * that a browser sent in its normal form (lowercase, no default port), which is a Set lookup.
 */

/** How many entries one key's `allowedOrigins` may hold. */
export const MAX_ALLOWED_ORIGINS = 50

const DEFAULT_PORTS: Record<string, string> = { http: '80', https: '443' }
const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/
/** Labels a browser may send in an Origin (Chrome accepts underscores in host names). */
const LENIENT_LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/
const IPV4_PART = /^(0|[1-9][0-9]{0,2})$/
const PORT = /^[0-9]{1,5}$/
const HEX_GROUP = /^[0-9a-f]{1,4}$/

interface ParsedOrigin {
  /** The normal form: `scheme://host[:port]`, scheme and host lowercase, no default port. */
  origin: string
  scheme: string
  /** The host as it appears in `origin` (IPv6 in brackets). */
  host: string
  /** '' for the scheme's default port. */
  port: string
  kind: 'dns' | 'ipv4' | 'ipv6'
}

export interface OriginEntry extends ParsedOrigin {
  /** `https://*.example.com`: `host` is then `example.com`, and any subdomain of it at any depth matches. */
  wildcard: boolean
}

type Parsed<T> = T | { problem: string }

function isProblem<T extends object> (value: Parsed<T>): value is { problem: string } {
  return 'problem' in value
}

function parseIpv4 (host: string): string | null {
  const parts = host.split('.')
  if (parts.length !== 4) return null
  for (const part of parts) {
    if (!IPV4_PART.test(part) || Number(part) > 255) return null
  }
  return host
}

/** Eight 16-bit groups, or null. Accepts `::` and a dotted IPv4 tail, as RFC 4291 writes them. */
function ipv6Groups (text: string): number[] | null {
  const halves = text.split('::')
  if (halves.length > 2) return null
  const groupsOf = (half: string): number[] | null => {
    if (half === '') return []
    const groups: number[] = []
    const pieces = half.split(':')
    for (const [index, piece] of pieces.entries()) {
      if (index === pieces.length - 1 && piece.includes('.')) {
        const ipv4 = parseIpv4(piece)
        if (ipv4 === null) return null
        const [a, b, c, d] = ipv4.split('.').map(Number)
        groups.push(a * 256 + b, c * 256 + d)
      } else if (HEX_GROUP.test(piece)) {
        groups.push(parseInt(piece, 16))
      } else {
        return null
      }
    }
    return groups
  }
  const head = groupsOf(halves[0])
  const tail = halves.length === 2 ? groupsOf(halves[1]) : []
  if (head === null || tail === null) return null
  if (halves.length === 1) return head.length === 8 ? head : null
  const missing = 8 - head.length - tail.length
  if (missing < 1) return null
  return [...head, ...new Array<number>(missing).fill(0), ...tail]
}

/** RFC 5952 text: lowercase, no leading zeros, the first longest run of two or more zero groups as `::`. */
function ipv6Text (groups: number[]): string {
  let bestStart = -1
  let bestLength = 1
  for (let start = 0; start < 8;) {
    if (groups[start] !== 0) {
      start += 1
      continue
    }
    let end = start
    while (end < 8 && groups[end] === 0) end += 1
    if (end - start > bestLength) {
      bestStart = start
      bestLength = end - start
    }
    start = end
  }
  const hex = groups.map((group) => group.toString(16))
  if (bestStart === -1) return hex.join(':')
  return hex.slice(0, bestStart).join(':') + '::' + hex.slice(bestStart + bestLength).join(':')
}

function parseHost (host: string, lenient: boolean): Parsed<{ host: string, kind: ParsedOrigin['kind'] }> {
  if (host.startsWith('[')) {
    const groups = host.endsWith(']') ? ipv6Groups(host.slice(1, -1)) : null
    if (groups === null) return { problem: 'has an IPv6 address that is not valid' }
    return { host: `[${ipv6Text(groups)}]`, kind: 'ipv6' }
  }
  if (host === '') return { problem: 'has no host' }
  if (host.length > 253) return { problem: 'has a host longer than 253 characters' }
  const labels = host.split('.')
  // A name whose last label is a number is an IPv4 address or nothing (as in the WHATWG URL standard).
  if (/^(0x[0-9a-f]*|[0-9]+)$/.test(labels[labels.length - 1])) {
    return parseIpv4(host) === null ? { problem: 'has an IPv4 address that is not valid (write it as four numbers from 0 to 255)' } : { host, kind: 'ipv4' }
  }
  const label = lenient ? LENIENT_LABEL : DNS_LABEL
  if (!labels.every((part) => label.test(part))) {
    return { problem: 'has a host name that is not valid (letters, digits and hyphens, labels separated by single dots)' }
  }
  // An internationalised name is written in punycode (xn--…); one that does not decode is no name at all.
  if (labels.some((part) => part.startsWith('xn--') && !isPunycodeLabel(part))) {
    return { problem: 'has a host name whose xn-- label is not the punycode of an internationalised name' }
  }
  return { host, kind: 'dns' }
}

/** Parses `scheme://host[:port]` with nothing after it. `lenient` accepts what a browser may send. */
function parseOrigin (text: string, lenient: boolean): Parsed<ParsedOrigin & { wildcard: boolean }> {
  const scheme = SCHEME.exec(text)
  if (scheme === null) return { problem: 'must start with http:// or https://' }
  const schemeName = scheme[1].toLowerCase()
  if (DEFAULT_PORTS[schemeName] === undefined) return { problem: 'must start with http:// or https://' }
  let rest = text.slice(scheme[0].length).toLowerCase()
  if (rest.endsWith('/')) return { problem: 'must not end with a slash' }
  if (/[/?#]/.test(rest)) return { problem: 'must not have a path, a query or a fragment' }
  if (rest.includes('@')) return { problem: 'must not have user info' }
  if (/[\s\\%]/.test(rest)) return { problem: 'has a character that is not allowed in an origin' }
  let wildcard = false
  if (!lenient && rest.startsWith('*.')) {
    wildcard = true
    rest = rest.slice(2)
  }
  const portAt = rest.startsWith('[') ? rest.indexOf(']') + 1 : rest.lastIndexOf(':')
  let hostText = rest
  let port = ''
  if (portAt > 0 && rest[portAt] === ':') {
    hostText = rest.slice(0, portAt)
    const portText = rest.slice(portAt + 1)
    if (!PORT.test(portText) || Number(portText) > 65535) return { problem: 'has a port that is not a number from 0 to 65535' }
    port = String(Number(portText))
    if (port === DEFAULT_PORTS[schemeName]) port = ''
  } else if (portAt > 0 && portAt < rest.length) {
    return { problem: 'has an IPv6 address that is not valid' }
  }
  const host = parseHost(hostText, lenient)
  if (isProblem(host)) return host
  if (wildcard && host.kind !== 'dns') return { problem: 'may use a wildcard only before a host name, as in https://*.example.com' }
  if (wildcard && !host.host.includes('.')) return { problem: 'may use a wildcard only above a domain with a dot, as in https://*.example.com' }
  const origin = `${schemeName}://${wildcard ? '*.' : ''}${host.host}${port === '' ? '' : ':' + port}`
  return { origin, scheme: schemeName, host: host.host, port, kind: host.kind, wildcard }
}

/** Parses one `allowedOrigins` entry. Returns it in normal form, or what is wrong with it. */
export function parseOriginEntry (value: unknown): Parsed<OriginEntry> {
  if (typeof value !== 'string') return { problem: 'must be a string' }
  if (value.length > 300) return { problem: 'is longer than 300 characters' }
  if (value.includes('*') && !/^[a-z]+:\/\/\*\.[^*]*$/i.test(value)) {
    return { problem: 'may hold one wildcard, only as the first label of the host (https://*.example.com)' }
  }
  return parseOrigin(value, false)
}

/**
 * Checks a whole `allowedOrigins` value (an array of 1 to 50 entries, or null for none) and returns it in normal
 * form with duplicates removed, or a message that names the entry and what is wrong with it.
 */
export function normaliseAllowedOrigins (value: unknown): { origins: string[] | null } | { problem: string } {
  if (value === null) return { origins: null }
  if (!Array.isArray(value) || value.length < 1 || value.length > MAX_ALLOWED_ORIGINS) {
    return { problem: `allowedOrigins must be null or an array of 1 to ${MAX_ALLOWED_ORIGINS} origins such as "https://app.example.com"` }
  }
  const origins = new Set<string>()
  for (const [index, entry] of value.entries()) {
    const parsed = parseOriginEntry(entry)
    if (isProblem(parsed)) {
      const shown = typeof entry === 'string' ? JSON.stringify(entry.slice(0, 100)) : typeof entry
      return { problem: `allowedOrigins[${index}] ${shown} ${parsed.problem}` }
    }
    origins.add(parsed.origin)
  }
  return { origins: [...origins] }
}

/** The normal form of an origin a request sent (an Origin header), or null when it is not an http(s) origin. */
export function normaliseRequestOrigin (value: string): string | null {
  const parsed = parseOrigin(value, true)
  return isProblem(parsed) ? null : parsed.origin
}

/** The normal form of the origin of a Referer URL, or null. */
export function refererOrigin (referer: string): string | null {
  const scheme = SCHEME.exec(referer)
  if (scheme === null) return null
  const end = referer.slice(scheme[0].length).search(/[/?#]/)
  return normaliseRequestOrigin(end === -1 ? referer : referer.slice(0, scheme[0].length + end))
}

/**
 * Decides whether a request's origin is one a key allows. Built once per key from its normalised entries.
 * An exact entry is a Set lookup of the header as sent; only a header that misses it is parsed, once, and then
 * compared against the exact entries again and against the wildcard suffixes.
 */
export class OriginMatcher {
  private readonly exact: Set<string>
  /** For `https://*.example.com:8443`: the scheme part `https://`, and the suffix `.example.com:8443`. */
  private readonly wildcards: Array<{ prefix: string, suffix: string }>

  constructor (entries: readonly string[]) {
    this.exact = new Set()
    this.wildcards = []
    for (const entry of entries) {
      const parsed = parseOriginEntry(entry)
      if (isProblem(parsed)) throw new TypeError(`allowedOrigins entry ${JSON.stringify(entry)} ${parsed.problem}`)
      if (!parsed.wildcard) this.exact.add(parsed.origin)
      else this.wildcards.push({ prefix: `${parsed.scheme}://`, suffix: `.${parsed.host}${parsed.port === '' ? '' : ':' + parsed.port}` })
    }
  }

  /**
   * Whether a request with these headers may use the key: its Origin, or when it sends none the origin of its
   * Referer, must match an entry. No header, or `Origin: null`, never matches.
   */
  allows (origin: string | undefined, referer: string | undefined): boolean {
    if (origin !== undefined) {
      if (this.exact.has(origin)) return true
      const normal = normaliseRequestOrigin(origin)
      return normal !== null && this.matchesNormal(normal)
    }
    if (referer === undefined) return false
    const normal = refererOrigin(referer)
    return normal !== null && this.matchesNormal(normal)
  }

  /** `origin` is in normal form (normaliseRequestOrigin). */
  matchesNormal (origin: string): boolean {
    if (this.exact.has(origin)) return true
    for (const { prefix, suffix } of this.wildcards) {
      if (origin.length > prefix.length + suffix.length && origin.startsWith(prefix) && origin.endsWith(suffix)) {
        const subdomain = origin.slice(prefix.length, origin.length - suffix.length)
        // The subdomain labels: anything but a port or a bracket (an IPv6 host) sits before the suffix.
        if (!/[:[\]]/.test(subdomain)) return true
      }
    }
    return false
  }
}
