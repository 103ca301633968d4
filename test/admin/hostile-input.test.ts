import fc from 'fast-check'
import type { FastifyInstance, InjectOptions } from 'fastify'
import t, { type Test } from 'tap'
import { ERROR_CODES } from '../../lib/index.js'
import { adminHeaders, startApp } from '../helpers/app.js'
import { propertySettings } from '../helpers/property.js'

// Alone this file takes seconds; in the full suite on 2 shared cores it can pass tap's 30 s default.
t.setTimeout(120_000)

const ROTATE = '/api/secrets/anon-key/rotate'
const ROUTES: Array<{ method: 'GET' | 'POST' | 'DELETE', url: string }> = [
  { method: 'GET', url: '/api/metadata/anon-key' },
  { method: 'POST', url: ROTATE },
  { method: 'GET', url: '/api/secrets/anon-key/previous' },
  { method: 'DELETE', url: '/api/secrets/anon-key/previous' },
  { method: 'DELETE', url: '/api/secrets/anon-key/previous/0123456789ab' }
]

/** How many hostile requests this file sent, reported at the end. */
let tried = 0

/**
 * Sends one hostile request and checks what the client gets: a 4xx, in the contract's error format (exactly
 * error, message, statusCode equal to the HTTP status, and optionally nextActions; the code's own status),
 * and the key unchanged (GET before and after), with no previous key made. `answeredBy: 'host'` is for requests
 * Fastify turns away before any route of the plugin is chosen (an unknown method, a URL that does not decode):
 * those get the host's own answer, which must still be a 4xx that changes nothing.
 */
async function sendHostile (t: Test, app: FastifyInstance, request: InjectOptions, answeredBy: 'plugin' | 'host' = 'plugin'): Promise<boolean> {
  tried += 1
  const before = await app.inject({ url: '/api/metadata/anon-key', headers: adminHeaders() })
  const response = await app.inject(request)
  const seen = `${String(request.method)} ${String(request.url).slice(0, 100)} ${String(request.payload ?? '').slice(0, 80)} → ${response.statusCode} ${response.body.slice(0, 200)}`
  const problems: string[] = []
  if (response.statusCode < 400 || response.statusCode > 499) problems.push('not a 4xx')
  if (answeredBy === 'plugin') {
    let body: any
    try { body = response.json() } catch { body = null }
    const keys = body === null || typeof body !== 'object' ? [] : Object.keys(body).sort()
    const shape = keys.join(',')
    if (shape !== 'error,message,nextActions,statusCode' && shape !== 'error,message,statusCode') problems.push(`body has the properties [${shape}]`)
    else if (body.statusCode !== response.statusCode) problems.push('body.statusCode differs from the HTTP status')
    else if (!Object.hasOwn(ERROR_CODES, body.error) || ERROR_CODES[body.error as keyof typeof ERROR_CODES].statusCode !== response.statusCode) problems.push(`unknown code ${String(body.error)} for this status`)
    else if (typeof body.message !== 'string' || (body.nextActions !== undefined && typeof body.nextActions !== 'string')) problems.push('message or nextActions is not a string')
  }
  const after = await app.inject({ url: '/api/metadata/anon-key', headers: adminHeaders() })
  if (after.body !== before.body) problems.push('the key changed')
  if ((await app.anonKey.listPrevious()).length !== 0) problems.push('a previous key was made')
  if (problems.length > 0) {
    t.fail(`${problems.join('; ')}: ${seen}`)
    return false
  }
  return true
}

function rotateWith (payload: string | undefined, contentType: string | undefined = 'application/json', headers: Record<string, string> = adminHeaders()): InjectOptions {
  return { method: 'POST', url: ROTATE, payload, headers: { ...headers, ...(contentType === undefined ? {} : { 'content-type': contentType }) } }
}

/** Whether the contract accepts this rotate body (no options, or a whole gracePeriodHours in range). */
function acceptedBody (text: string): boolean {
  if (text.trim() === '') return true
  let value: any
  try { value = JSON.parse(text) } catch { return false }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false
  const keys = Object.keys(value)
  if (keys.length === 0) return true
  return keys.length === 1 && keys[0] === 'gracePeriodHours' && /^\s*\{\s*"gracePeriodHours"\s*:\s*\d+\s*\}\s*$/.test(text) &&
    Number.isInteger(value.gracePeriodHours) && value.gracePeriodHours >= 0 && value.gracePeriodHours <= 720
}

const deep = (depth: number, inner: string): string => '{"a":'.repeat(depth) + inner + '}'.repeat(depth)

const HAND_PICKED_BODIES: string[] = [
  'null', 'true', 'false', '0', '-1', '24', '"24"', '""', '[]', '[{}]', '[{"gracePeriodHours": 24}]',
  '{"gracePeriodHours": 1e400}', '{"gracePeriodHours": -1e400}', `{"gracePeriodHours": ${String(2 ** 53 + 1)}}`,
  '{"gracePeriodHours": 9007199254740993}', '{"gracePeriodHours": 1e-400}', '{"gracePeriodHours": 24.0}',
  '{"gracePeriodHours": 1e1}', '{"gracePeriodHours": 720.0000000000001}', '{"gracePeriodHours": 0.0}',
  '{"gracePeriodHours": -0.0}', '{"gracePeriodHours": 0x10}', '{"gracePeriodHours": NaN}', '{"gracePeriodHours": Infinity}',
  '{"gracePeriodHours": 24, "gracePeriodHours": 0}', '{"gracePeriodHours": 720, "gracePeriodHours": 0}',
  '{"gracePeriodHours": 0, "gracePeriodHours": 0}', '{"gracePeriod\\u0048ours": 720, "gracePeriodHours": 0}',
  '{"__proto__": {"gracePeriodHours": 0}}', '{"__proto__": null}', '{"gracePeriodHours": 24, "__proto__": {"admin": true}}',
  '{"constructor": {"prototype": {"gracePeriodHours": 0}}}', '{"prototype": {}}', '{"toString": 1}', '{"hasOwnProperty": 24}',
  '{"gracePeriodHоurs": 24}', '{"gracePeriodHours\\u0000": 24}', '{"\\ud800": 1}', '{"gracePeriodHours": "\\u202e42"}',
  '{"gracePeriodHours": "２４"}', '{"gracePeriodHours": "24 hours"}', '{"gracePeriodHours": {}}', '{"gracePeriodHours": [0]}',
  '{"gracePeriodHours": 24}garbage', '{"gracePeriodHours": 24}{"gracePeriodHours": 0}', "{'gracePeriodHours': 24}",
  '{gracePeriodHours: 24}', '{"gracePeriodHours": 24,}', '{"gracePeriodHours": 24 // comment\n}', '\u0000', '\\',
  deep(100, '1'), deep(300, '{}'), '['.repeat(500) + ']'.repeat(500), '{"x": "' + 'é'.repeat(600) + '"}',
  JSON.stringify({ gracePeriodHours: 24, pad: 'x'.repeat(5000) }), '[' + '0,'.repeat(100_000) + '0]'
]

t.test('hand-picked hostile rotate bodies all answer 4xx in the error format and leave the key alone', async (t) => {
  const app = await startApp(t)
  let ok = 0
  for (const body of HAND_PICKED_BODIES) if (await sendHostile(t, app, rotateWith(body))) ok += 1
  t.equal(ok, HAND_PICKED_BODIES.length, 'every hand-picked body was refused properly')
  t.equal(({} as any).gracePeriodHours, undefined, 'no body reached Object.prototype')
  t.equal(({} as any).admin, undefined, 'no body reached Object.prototype')
})

t.test('a body that names gracePeriodHours twice is refused: JSON.parse would keep the last value, a proxy may read the first', async (t) => {
  const app = await startApp(t)
  const response = await app.inject(rotateWith('{"gracePeriodHours": 720, "gracePeriodHours": 0}'))
  t.equal(response.statusCode, 400)
  t.equal(response.json().message, 'The body names a property twice.')
  const nested = await app.inject(rotateWith('{"gracePeriodHours": 24, "x": [{"a": 1, "a": 2}]}'))
  t.equal(nested.json().message, 'The body names a property twice.', 'at any depth')
})

t.test('a grace written with a fraction or an exponent is refused, even when JSON.parse makes it whole (1e-400 is 0)', async (t) => {
  const app = await startApp(t)
  for (const grace of ['1e-400', '24.0', '1E1', '0.0']) {
    const response = await app.inject(rotateWith(`{"gracePeriodHours": ${grace}}`))
    t.equal(response.statusCode, 400, `${grace}: ${response.body}`)
    t.equal(response.json().message, 'Numbers must be whole and written without a fraction or an exponent.')
  }
  const words = await app.inject(rotateWith('{"gracePeriodHours": 24, "e": "1.5e3", "f": [true, false, null]}'))
  t.match(words.json().message, /Unknown property/, 'letters in strings and in true, false and null are not numbers')
})

t.test('a malformed fingerprint is refused with advice about fingerprints, not about the rotate body', async (t) => {
  const app = await startApp(t)
  const response = await app.inject({ method: 'DELETE', url: '/api/secrets/anon-key/previous/__proto__', headers: adminHeaders() })
  t.equal(response.statusCode, 400)
  t.equal(response.json().message, 'fingerprint must be 12 lowercase hex characters.')
  t.match(response.json().nextActions, /GET \/api\/secrets\/anon-key\/previous/)
})

t.test('over a real socket, oversized headers and an unannounced oversized body are refused and change nothing', async (t) => {
  const app = await startApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address() as { port: number }
  const before = await app.anonKey.get()
  const huge = await fetch(`http://127.0.0.1:${address.port}${ROTATE}`, {
    method: 'POST', headers: { ...adminHeaders(), 'x-padding': 'p'.repeat(20 * 1024) }
  })
  t.equal(huge.status, 431, 'Node\'s HTTP parser refuses headers over 16 KiB before Fastify runs')
  tried += 1
  const chunks = (async function * () { for (let i = 0; i < 64; i++) yield new TextEncoder().encode('{"x":"' + 'y'.repeat(100) + '"}') })()
  const streamed = await fetch(`http://127.0.0.1:${address.port}${ROTATE}`, {
    method: 'POST', headers: { ...adminHeaders(), 'content-type': 'application/json' }, body: chunks, duplex: 'half'
  } as unknown as RequestInit)
  t.equal(streamed.status, 413)
  t.same(Object.keys(await streamed.json() as object).sort(), ['error', 'message', 'nextActions', 'statusCode'])
  tried += 1
  t.equal(await app.anonKey.get(), before, 'the key is unchanged')
})

t.test('hostile content types, methods, URLs and headers all answer 4xx and leave the key alone', async (t) => {
  const app = await startApp(t)
  const contentTypes = ['text/plain', 'text/json', 'application/jsonx', 'application/json-patch+json', 'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x', 'application/octet-stream', 'application/xml', '*/*', 'json', ';', 'application/',
    'application/ld+json', 'text/html; charset=utf-8']
  for (const type of contentTypes) await sendHostile(t, app, rotateWith('{"gracePeriodHours": 24}', type))
  // A body with no content type at all.
  await sendHostile(t, app, { method: 'POST', url: ROTATE, headers: { ...adminHeaders(), 'content-length': '24' }, payload: Buffer.from('{"gracePeriodHours": 24}') })
  // The JSON content type with a body over the limit, announced and not announced.
  await sendHostile(t, app, rotateWith('{"gracePeriodHours": 24, "x": "' + 'x'.repeat(1024 * 1024) + '"}'))

  for (const { url } of ROUTES) {
    for (const method of ['PUT', 'PATCH', 'OPTIONS'] as const) {
      await sendHostile(t, app, { method, url, headers: { ...adminHeaders(), 'content-type': 'application/json' }, payload: '{"gracePeriodHours": 0}' }, 'host')
    }
  }
  await sendHostile(t, app, { method: 'GET', url: ROTATE, headers: adminHeaders() }, 'host')
  await sendHostile(t, app, { method: 'POST', url: '/api/secrets/anon-key/previous', headers: adminHeaders() }, 'host')
  await sendHostile(t, app, { method: 'DELETE', url: '/api/secrets/anon-key/previous/%E0%A4%A', headers: adminHeaders() }, 'host')

  const fingerprints = ['', '%00', 'ABCDEF012345', '0123456789abc', '0123456789a', '..%2F..%2Fetc', '__proto__', 'constructor',
    '%F0%9F%94%91'.repeat(3), '0123456789ab%20', 'x'.repeat(100), '0123456789ab?x=1']
  for (const fingerprint of fingerprints) {
    await sendHostile(t, app, { method: 'DELETE', url: `/api/secrets/anon-key/previous/${fingerprint}`, headers: adminHeaders() })
  }
  // Over Fastify's maxParamLength (100) the router refuses the URL (414) before any route is chosen.
  await sendHostile(t, app, { method: 'DELETE', url: `/api/secrets/anon-key/previous/${'x'.repeat(5000)}`, headers: adminHeaders() }, 'host')

  const anonKey = await app.anonKey.get() as string
  const authorizations = [undefined, '', 'Bearer', 'Bearer ', 'Bearer  ', 'Basic YWRtaW46YWRtaW4=', `Bearer ${anonKey}`, anonKey,
    'Bearer a.b.c', 'Bearer ....', 'Bearer ' + 'A'.repeat(16_000), 'Bearer ' + adminHeaders().authorization.slice(7) + 'x',
    adminHeaders().authorization.replace('Bearer', 'Token'), 'Bearer eyJhbGciOiJub25lIn0.eyJyb2xlIjoicHJvamVjdF9hZG1pbiJ9.',
    'Bearer \u00e9\u00e8']
  for (const { method, url } of ROUTES) {
    for (const authorization of authorizations) {
      const headers: Record<string, string> = authorization === undefined ? {} : { authorization }
      await sendHostile(t, app, { method, url, headers })
    }
    // Oversized and repeated headers next to a missing token.
    await sendHostile(t, app, { method, url, headers: { 'x-padding': 'p'.repeat(64 * 1024), cookie: 'c'.repeat(8000) } })
  }
  t.pass('every request was refused properly')
})

t.test('generated hostile bodies, content types, fingerprints and tokens all answer 4xx and leave the key alone', async (t) => {
  const app = await startApp(t)
  const settings = propertySettings(t, 400)
  const body = fc.oneof(
    fc.jsonValue({ maxDepth: 6 }).map((value) => JSON.stringify(value)),
    fc.dictionary(fc.constantFrom('gracePeriodHours', '__proto__', 'constructor', 'prototype', 'gracePeriodHour', 'GracePeriodHours'),
      fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.double(), fc.bigInt().map(String))).map((value) => JSON.stringify(value)),
    fc.record({ grace: fc.oneof(fc.integer({ min: -1000, max: 721 }), fc.double({ noNaN: true }), fc.constantFrom('1e400', '-0', '1e-400', '9007199254740993', '720.0')), again: fc.integer({ min: 0, max: 720 }) })
      .map(({ grace, again }) => `{"gracePeriodHours": ${String(grace)}, "gracePeriodHours": ${again}}`),
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.string({ unit: fc.constantFrom('{', '}', '[', ']', '"', ':', ',', '0', '1', 'e', '-', '.', ' ', 'n', 'u', 'l', '\\'), maxLength: 60 })
  ).filter((text) => !acceptedBody(text))
  const request = fc.oneof(
    { weight: 6, arbitrary: body.map((text) => rotateWith(text)) },
    {
      weight: 2,
      arbitrary: fc.tuple(body, fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('text/plain', 'application/xml', 'application/x-www-form-urlencoded')))
        .filter(([, type]) => !/^\s*application\/json\s*(;|$)/i.test(type) && !/[^\t\x20-\x7e]/.test(type) && type.trim() !== '')
        .map(([text, type]) => rotateWith(text === '' ? '{}' : text, type))
    },
    {
      weight: 2,
      arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).filter((value) => !/^[0-9a-f]{12}$/.test(value)).map((value) => ({
        method: 'DELETE' as const, url: `/api/secrets/anon-key/previous/${encodeURIComponent(value)}`, headers: adminHeaders()
      }))
    },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.constantFrom(...ROUTES), fc.string({ unit: fc.constantFrom(...'abcXYZ019.-_ =+/eyJ'.split('')), maxLength: 200 }))
        .map(([route, token]) => ({ method: route.method, url: route.url, headers: { authorization: `Bearer ${token}` } }))
    }
  )
  let sent = 0
  await fc.assert(fc.asyncProperty(request, async (hostile) => {
    sent += 1
    return sendHostile(t, app, hostile)
  }), settings)
  t.comment(`${sent} generated hostile requests`)
})

t.test('hostile requests tried', async (t) => {
  t.comment(`${tried} hostile requests sent in this file, every one a 4xx that left the key unchanged`)
  t.ok(tried > 500, 'enough cases to matter')
})
