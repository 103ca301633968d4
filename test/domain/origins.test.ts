import fc from 'fast-check'
import t from 'tap'
import { normaliseAllowedOrigins, normaliseRequestOrigin, OriginMatcher, parseOriginEntry, refererOrigin } from '../../lib/domain/origins.js'
import { propertySettings } from '../helpers/property.js'

/**
 * The reference: what the WHATWG URL parser (the browser's own) says. An entry `scheme://*.domain:port` allows
 * an origin with the same scheme and port whose host name ends with `.domain`; any other entry allows the
 * origin with the same scheme, host and port. The origin must be a bare origin: http(s), no user info, no path,
 * no query, no fragment.
 */
function referenceAllows (entry: string, origin: string): boolean {
  const allowed = new URL(entry)
  let url: URL
  try {
    url = new URL(origin)
  } catch {
    return false
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') return false
  if (url.pathname !== '/' || /^[a-z]+:\/\/[^/]*\//i.test(origin)) return false
  if (url.protocol !== allowed.protocol || url.port !== allowed.port) return false
  if (!allowed.hostname.startsWith('*.')) return url.hostname === allowed.hostname
  const suffix = allowed.hostname.slice(1)
  return url.hostname.length > suffix.length && url.hostname.endsWith(suffix) && !url.hostname.startsWith('[')
}

const mixedCase = (text: string) => fc.array(fc.boolean(), { minLength: text.length, maxLength: text.length })
  .map((upper) => [...text].map((char, index) => upper[index] ? char.toUpperCase() : char).join(''))

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?$/)
const domain = fc.tuple(fc.array(label, { minLength: 1, maxLength: 3 }), fc.constantFrom('com', 'org', 'example', 'io'))
  .map(([labels, tld]) => [...labels, tld].join('.'))
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((parts) => parts.join('.'))
const ipv6 = fc.oneof(
  fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((groups) => `[${groups.map((g) => g.toString(16)).join(':')}]`),
  fc.array(fc.constantFrom(0, 0, 1, 0xabc), { minLength: 8, maxLength: 8 }).map((groups) => `[${groups.map((g) => g.toString(16).padStart(4, '0')).join(':')}]`),
  fc.constantFrom('[::1]', '[::]', '[2001:db8::1]', '[::ffff:1.2.3.4]', '[fe80::1:0:0:1]', '[1:0:0:1:0:0:0:1]')
)
const scheme = fc.constantFrom('http', 'https')
const port = fc.oneof(fc.constant(''), fc.constantFrom(':80', ':443', ':8080', ':0443', ':65535', ':0'), fc.integer({ min: 1, max: 65535 }).map((p) => `:${p}`))

/** A well-formed entry, in any case, with or without a (default) port. */
const entry = fc.oneof(
  fc.tuple(scheme, fc.boolean(), domain, port).map(([s, wildcard, host, p]) => `${s}://${wildcard ? '*.' : ''}${host}${p}`),
  fc.tuple(scheme, fc.oneof(ipv4, ipv6), port).map(([s, host, p]) => `${s}://${host}${p}`)
).chain(mixedCase).filter((text) => URL.canParse(text))

/** Origins a browser could send, built around an entry, plus the attacks a wildcard must not fall for. */
function originsAround (allowed: string): fc.Arbitrary<string> {
  const url = new URL(allowed)
  const host = url.hostname.replace(/^\*\./, '')
  const s = url.protocol.slice(0, -1)
  const p = url.port === '' ? '' : `:${url.port}`
  const other = s === 'http' ? 'https' : 'http'
  return fc.oneof(
    fc.constantFrom(
      `${s}://${host}${p}`, // the apex: matches a plain entry, never its wildcard
      `${s}://www.${host}${p}`,
      `${s}://a.b.${host}${p}`,
      `${other}://${host}${p}`,
      `${s}://${host}${p}:1`,
      `${s}://${host}.evil.com${p}`, // suffix attack
      `${s}://x.${host}.evil.com${p}`,
      `${s}://evil${host}${p}`, // glued
      `${s}://evil-${host}${p}`,
      `${s}://${host}${p}/`,
      `${s}://${host}${p}/path`,
      `${s}://${host}${p}?q`,
      `${s}://${host}@evil.com${p}`,
      `${s}://evil.com@${host}${p}`,
      `${s}://user@${host}${p}`,
      `${s}://${host}.${p}`,
      `${s}://www.${host}.${p}`,
      `${s}://www..${host}${p}`,
      `${s}://${host}:${p}`,
      `${s}://*.${host}${p}`,
      `${s}://a_b.${host}${p}`,
      'null',
      ''
    ),
    fc.tuple(label, port).map(([sub, q]) => `${s}://${sub}.${host}${q}`),
    fc.tuple(scheme, fc.oneof(domain, ipv4, ipv6), port).map(([s2, h, q]) => `${s2}://${h}${q}`),
    fc.string({ maxLength: 30 }).map((junk) => `${s}://${junk}`)
  ).chain(mixedCase)
}

t.test('every well-formed entry normalises to what the WHATWG URL parser makes of it, and normalising twice changes nothing', async (t) => {
  fc.assert(fc.property(entry, (text) => {
    const parsed = parseOriginEntry(text)
    if ('problem' in parsed) throw new Error(`${text} refused: ${parsed.problem}`)
    const url = new URL(text)
    if (parsed.origin !== `${url.protocol}//${url.host}`) throw new Error(`${text} became ${parsed.origin}, URL says ${url.protocol}//${url.host}`)
    const again = parseOriginEntry(parsed.origin)
    if ('problem' in again || again.origin !== parsed.origin) throw new Error(`${parsed.origin} is not stable`)
  }), propertySettings(t, 2000))
  t.pass('every entry matched the reference')
})

t.test('the matcher never allows an origin that the URL-based reference refuses, whatever the header holds', async (t) => {
  const cases = entry.chain((allowed) => fc.tuple(fc.constant(allowed), originsAround(allowed)))
  fc.assert(fc.property(cases, ([allowed, origin]) => {
    const matcher = new OriginMatcher([(parseOriginEntry(allowed) as { origin: string }).origin])
    if (matcher.allows(origin, undefined) && !referenceAllows(allowed, origin)) {
      throw new Error(`${allowed} let ${JSON.stringify(origin)} through; the reference refuses it`)
    }
  }), propertySettings(t, 5000))
  t.pass('no origin got through that the reference refuses')
})

t.test('the matcher allows every bare origin that the reference allows (no path, user info, empty label, trailing dot or empty port)', async (t) => {
  const bare = entry.chain((allowed) => fc.tuple(fc.constant(allowed), originsAround(allowed)
    .filter((origin) => /^https?:\/\/[a-z0-9.:[\]_-]+$/i.test(origin) && !/(\.\.|\.:|[.:]$)/.test(origin))))
  fc.assert(fc.property(bare, ([allowed, origin]) => {
    const matcher = new OriginMatcher([(parseOriginEntry(allowed) as { origin: string }).origin])
    if (matcher.allows(origin, undefined) !== referenceAllows(allowed, origin)) {
      throw new Error(`${allowed} and ${origin}: matcher ${matcher.allows(origin, undefined)}, reference ${referenceAllows(allowed, origin)}`)
    }
  }), propertySettings(t, 5000))
  t.pass('the matcher agreed with the reference on every bare origin')
})

t.test('a wildcard matches subdomains at any depth but not the domain itself, a suffix attack or a glued name', async (t) => {
  const matcher = new OriginMatcher(['https://*.example.org'])
  t.ok(matcher.allows('https://a.example.org', undefined))
  t.ok(matcher.allows('https://a.b.c.example.org', undefined))
  t.ok(matcher.allows('HTTPS://A.Example.ORG:443', undefined), 'case and the default port do not matter')
  t.notOk(matcher.allows('https://example.org', undefined), 'not the apex')
  t.notOk(matcher.allows('https://x.example.org.evil.com', undefined), 'suffix attack')
  t.notOk(matcher.allows('https://evilexample.org', undefined), 'glued name')
  t.notOk(matcher.allows('http://a.example.org', undefined), 'other scheme')
  t.notOk(matcher.allows('https://a.example.org:8443', undefined), 'other port')
  t.notOk(matcher.allows('https://[::1]', undefined))
})

t.test('exact entries compare case-insensitively, a default port equals none, and IPv6 is compared in normal form', async (t) => {
  const matcher = new OriginMatcher(['https://a.com', 'http://[2001:db8::1]:8080', 'http://10.0.0.1'])
  t.ok(matcher.allows('https://a.com', undefined))
  t.ok(matcher.allows('https://A.COM:443', undefined))
  t.ok(matcher.allows('http://[2001:0db8:0:0:0:0:0:1]:8080', undefined))
  t.ok(matcher.allows('http://10.0.0.1:80', undefined))
  t.notOk(matcher.allows('http://10.0.0.01', undefined), 'a non-canonical IPv4 address is refused')
  t.notOk(matcher.allows('https://a.com.', undefined))
  t.notOk(matcher.allows('null', undefined), 'Origin: null')
  t.notOk(matcher.allows(undefined, undefined), 'neither header')
})

t.test('without an Origin header the origin of the Referer decides; with one, the Referer is not read', async (t) => {
  const matcher = new OriginMatcher(['https://app.example.com'])
  t.ok(matcher.allows(undefined, 'https://app.example.com/page?x=1#top'))
  t.ok(matcher.allows(undefined, 'https://app.example.com'))
  t.notOk(matcher.allows(undefined, 'https://app.example.com.evil.com/page'))
  t.notOk(matcher.allows(undefined, 'not a url'))
  t.notOk(matcher.allows(undefined, 'https://user@app.example.com/'))
  t.notOk(matcher.allows('https://evil.com', 'https://app.example.com/'))
  t.equal(refererOrigin('HTTPS://App.Example.com:443/x'), 'https://app.example.com')
})

t.test('entries are refused with a message naming the entry and what is wrong', async (t) => {
  const refusals: Array<[unknown, RegExp]> = [
    ['ftp://a.com', /http:\/\/ or https:\/\//],
    ['a.com', /http:\/\/ or https:\/\//],
    ['https://a.com/', /slash/],
    ['https://a.com/path', /path/],
    ['https://a.com?x', /query/],
    ['https://user@a.com', /user info/],
    ['https://a.com:99999', /port/],
    ['https://a.com:', /port/],
    ['https://', /no host/],
    ['https://a..com', /host name/],
    ['https://-a.com', /host name/],
    ['https://a_b.com', /host name/],
    ['https://xn--0.example.com', /punycode/],
    ['https://a.xn--wca.example.com', /xn-- label is not the punycode of an internationalised name/],
    ['https://xn--a.example', /punycode/],
    ['https://1.2.3', /IPv4/],
    ['https://256.1.1.1', /IPv4/],
    ['https://[::1', /IPv6/],
    ['https://[1::2::3]', /IPv6/],
    ['https://[::1]x', /IPv6/],
    ['https://[1:2:3:4:5:6:7:8:9]', /IPv6/],
    ['https://[1:2:3:4:5:6:7:8::]', /IPv6/],
    ['https://[::1.2.3]', /IPv6/],
    ['https://[::g]', /IPv6/],
    ['https://[1:2]', /IPv6/],
    ['https://a.*.com', /wildcard/],
    ['https://*.*.a.com', /wildcard/],
    ['https://*a.com', /wildcard/],
    ['https://*.com', /wildcard only above a domain/],
    ['https://*.10.0.0.1', /wildcard only before a host name/],
    ['https://a b.com', /not allowed/],
    ['https://' + 'a'.repeat(300) + '.com', /300/],
    ['https://' + 'a.'.repeat(130) + 'com', /253/],
    [42, /string/]
  ]
  for (const [value, message] of refusals) {
    const result = normaliseAllowedOrigins([value])
    t.ok('problem' in result, `${JSON.stringify(value)} is refused`)
    t.match((result as { problem: string }).problem, message, `${JSON.stringify(value)}: ${(result as { problem: string }).problem}`)
    t.match((result as { problem: string }).problem, /^allowedOrigins\[0\]/)
  }
  t.match(normaliseAllowedOrigins([]), { problem: /1 to 50/ })
  t.match(normaliseAllowedOrigins(new Array(51).fill('https://a.com')), { problem: /1 to 50/ })
  t.match(normaliseAllowedOrigins('https://a.com'), { problem: /array/ })
  t.throws(() => new OriginMatcher(['https://a.com/']), /slash/)
})

t.test('allowedOrigins normalises every entry and drops duplicates; null lifts the restriction', async (t) => {
  t.same(normaliseAllowedOrigins(['HTTPS://A.com:443', 'https://a.com', 'https://*.A.com', 'http://[::FFFF:1.2.3.4]:80']),
    { origins: ['https://a.com', 'https://*.a.com', 'http://[::ffff:102:304]'] })
  t.same(normaliseAllowedOrigins(null), { origins: null })
  t.equal(normaliseRequestOrigin('https://a.com:8443'), 'https://a.com:8443')
  t.equal(normaliseRequestOrigin('https://a.com/x'), null)
  t.same(normaliseAllowedOrigins(['https://xn--bcher-kva.example', 'https://*.XN--55QX5D.cn']), { origins: ['https://xn--bcher-kva.example', 'https://*.xn--55qx5d.cn'] })
  t.equal(normaliseRequestOrigin('https://shop.xn--55qx5d.cn'), 'https://shop.xn--55qx5d.cn')
  t.equal(normaliseRequestOrigin('https://xn--0.example.com'), null, 'an Origin whose xn-- label does not decode matches no entry')
})
