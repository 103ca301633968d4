import { createHmac } from 'node:crypto'
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { assertError, startApp } from '../helpers/app.js'
import { CLOCK_START, fakeDateNow } from '../helpers/clock.js'
import { keysRequest, useKeyFrom } from '../helpers/named-keys.js'
import { appCheckToken, AUDIENCE, ISSUER, signingKey, startJwksServer, type JwksServer } from '../helpers/jwks-server.js'
import { memoryStore, type AttestationOptions } from '../../lib/index.js'

const HEADER = 'x-firebase-appcheck'
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

const KEY_A = signingKey('key-a')
const KEY_B = signingKey('key-b')

/** An app whose `mobile` key requires attestation, checked against `jwks`; the clock starts at CLOCK_START. */
async function attestedApp (t: Test, jwks: JwksServer, attestation: AttestationOptions = {}): Promise<{ app: FastifyInstance, key: string }> {
  const clock = fakeDateNow(CLOCK_START)
  t.teardown(() => clock.restore())
  const app = await startApp(t, { attestation: { jwksUrl: jwks.url, issuer: ISSUER, audience: AUDIENCE, ...attestation } })
  const key = (await app.anonKey.createKey({ name: 'mobile', requireAttestation: true })).anonKey
  return { app, key }
}

/** The hook's answer and verify()'s for this token must agree: 200 and valid, or this 401 code. */
async function judged (t: Test, app: FastifyInstance, key: string, token: string | undefined, expected: 200 | string, label: string): Promise<void> {
  const response = await useKeyFrom(app, key, token === undefined ? {} : { [HEADER]: token })
  const verdict = await app.anonKey.verify(key, token === undefined ? {} : { attestationToken: token })
  if (expected === 200) {
    t.equal(response.statusCode, 200, `${label}: passes; got ${response.body}`)
    t.equal(verdict.valid, true, `${label}: verify() lets it through too`)
    return
  }
  assertError(t, response, 401, expected)
  t.equal(response.headers['www-authenticate'], 'Bearer', `${label}: a 401 names its scheme`)
  t.same(verdict, { valid: false, code: expected }, `${label}: verify() refuses alike`)
}

t.test('a valid App Check token passes; none is ATTESTATION_REQUIRED; every bad one ATTESTATION_INVALID', async (t) => {
  const jwks = await startJwksServer(t, [KEY_A])
  const { app, key } = await attestedApp(t, jwks)
  await judged(t, app, key, appCheckToken(KEY_A), 200, 'valid')
  await judged(t, app, key, undefined, 'ANON_KEY_ATTESTATION_REQUIRED', 'no token')
  await judged(t, app, key, '', 'ANON_KEY_ATTESTATION_REQUIRED', 'an empty header')
  const [header, payload] = appCheckToken(KEY_A).split('.')
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString())
  const publicPem = KEY_A.publicKey.export({ type: 'spki', format: 'pem' }) as string
  const hs256Header = b64({ alg: 'HS256', typ: 'JWT', kid: KEY_A.kid })
  const bad: Array<[string, string]> = [
    ['garbage', 'not a token'],
    ['three dots of nothing', '..'],
    ['too long', 'a'.repeat(9000)],
    ['forged: signed by another key under the known kid', appCheckToken(KEY_B, {}, { kid: KEY_A.kid })],
    ['a payload changed after signing', `${header}.${b64({ ...claims, sub: 'someone-else' })}.${appCheckToken(KEY_A).split('.')[2]}`],
    ['expired', appCheckToken(KEY_A, { exp: Math.floor(CLOCK_START / 1000) - 1 })],
    ['not yet valid', appCheckToken(KEY_A, { nbf: Math.floor(CLOCK_START / 1000) + 3600 })],
    ['wrong iss', appCheckToken(KEY_A, { iss: 'https://firebaseappcheck.googleapis.com/999' })],
    ['wrong aud', appCheckToken(KEY_A, { aud: ['projects/999'] })],
    ['no iss, properly signed', appCheckToken(KEY_A, { iss: undefined })],
    ['no aud, properly signed', appCheckToken(KEY_A, { aud: undefined })],
    ['no exp', `${header}.${b64({ iss: ISSUER, aud: AUDIENCE })}.x`],
    ['alg none', `${b64({ alg: 'none', typ: 'JWT', kid: KEY_A.kid })}.${payload}.`],
    ['HS256 signed with the public key', `${hs256Header}.${payload}.${createHmac('sha256', publicPem).update(`${hs256Header}.${payload}`).digest('base64url')}`],
    ['no kid', `${b64({ alg: 'RS256', typ: 'JWT' })}.${payload}.${appCheckToken(KEY_A).split('.')[2]}`]
  ]
  for (const [label, token] of bad) await judged(t, app, key, token, 'ANON_KEY_ATTESTATION_INVALID', label)
})

t.test('a verified token is not verified again until it expires: one JWKS fetch, then lookups; at expiry it is refused', async (t) => {
  const jwks = await startJwksServer(t, [KEY_A])
  const { app, key } = await attestedApp(t, jwks)
  const token = appCheckToken(KEY_A, {}, { expiresInMs: 60_000 })
  for (let i = 0; i < 20; i++) t.equal((await useKeyFrom(app, key, { [HEADER]: token })).statusCode, 200)
  for (let i = 0; i < 5; i++) t.equal((await useKeyFrom(app, key, { [HEADER]: appCheckToken(KEY_A, { sub: `app-${i}` }) })).statusCode, 200)
  t.equal(jwks.fetches, 1, 'the JWKS was fetched once for 25 requests and 6 tokens')
  const clock = fakeDateNow(CLOCK_START + 60_000)
  t.teardown(() => clock.restore())
  await judged(t, app, key, token, 'ANON_KEY_ATTESTATION_INVALID', 'the cached token, once expired')
})

t.test('a key without requireAttestation ignores the header; PATCH turns the requirement on and off', async (t) => {
  const jwks = await startJwksServer(t, [KEY_A])
  const { app } = await attestedApp(t, jwks)
  const web = (await app.anonKey.createKey({ name: 'web' })).anonKey
  t.equal((await useKeyFrom(app, web)).statusCode, 200)
  t.equal((await useKeyFrom(app, web, { [HEADER]: 'garbage' })).statusCode, 200, 'a key that does not require a token does not judge one')
  const on = await keysRequest(app, 'PATCH', '/web', { requireAttestation: true })
  t.equal(on.json().requireAttestation, true)
  assertError(t, await useKeyFrom(app, web), 401, 'ANON_KEY_ATTESTATION_REQUIRED')
  await keysRequest(app, 'PATCH', '/web', { requireAttestation: false })
  t.equal((await useKeyFrom(app, web)).statusCode, 200)
  t.equal(jwks.fetches, 0, 'nothing asked for the JWKS')
})

t.test('an origin or app restriction is judged before the token, and a previous key keeps the requirement', async (t) => {
  const jwks = await startJwksServer(t, [KEY_A])
  const { app, key } = await attestedApp(t, jwks)
  await app.anonKey.updateKey('mobile', { allowedApps: { ios: ['com.example.app'] } })
  assertError(t, await useKeyFrom(app, key, { [HEADER]: appCheckToken(KEY_A) }), 403, 'ANON_KEY_APP_NOT_ALLOWED')
  t.equal((await useKeyFrom(app, key, { [HEADER]: appCheckToken(KEY_A), 'x-ios-bundle-identifier': 'com.example.app' })).statusCode, 200)
  await app.anonKey.rotate({ name: 'mobile', gracePeriodHours: 1 })
  assertError(t, await useKeyFrom(app, key, { 'x-ios-bundle-identifier': 'com.example.app' }), 401, 'ANON_KEY_ATTESTATION_REQUIRED')
})

t.test('a token of a kid the JWKS did not hold refetches it once per interval: rotation is picked up, a flood is not', async (t) => {
  const jwks = await startJwksServer(t, [KEY_A])
  const { app, key } = await attestedApp(t, jwks)
  await judged(t, app, key, appCheckToken(KEY_A), 200, 'the first key')
  t.equal(jwks.fetches, 1)
  jwks.keys = [KEY_B]
  await judged(t, app, key, appCheckToken(KEY_B), 'ANON_KEY_ATTESTATION_INVALID', 'a new kid within a minute of the last fetch')
  t.equal(jwks.fetches, 1, 'no refetch within the interval')
  const clock = fakeDateNow(CLOCK_START + 60_000)
  t.teardown(() => clock.restore())
  await judged(t, app, key, appCheckToken(KEY_B), 200, 'the new kid after the interval')
  t.equal(jwks.fetches, 2, 'one refetch')
  await judged(t, app, key, appCheckToken(KEY_A), 'ANON_KEY_ATTESTATION_INVALID', 'a kid the provider dropped')
  t.equal(jwks.fetches, 2)
})

t.test('a JWKS endpoint that is down, answers 500, sends garbage or too much, or hangs refuses new tokens and never crashes or hangs', async (t) => {
  for (const mode of ['down', 'error', 'garbage', 'huge', 'no-rsa-key', 'no-keys-array', 'hang'] as const) {
    await t.test(mode, async (t) => {
      const jwks = await startJwksServer(t, [KEY_A])
      if (mode === 'down') await jwks.stop()
      else jwks.mode = mode
      const { app, key } = await attestedApp(t, jwks, { timeoutMs: 200 })
      const started = performance.now()
      await judged(t, app, key, appCheckToken(KEY_A), 'ANON_KEY_ATTESTATION_INVALID', mode)
      t.ok(performance.now() - started < 3000, `answered in ${Math.round(performance.now() - started)} ms, within the timeout of the fetch`)
      if (mode === 'down') return
      jwks.mode = 'serve'
      await judged(t, app, key, appCheckToken(KEY_A), 'ANON_KEY_ATTESTATION_INVALID', 'within the interval, no new fetch')
      const clock = fakeDateNow(CLOCK_START + 60_000)
      t.teardown(() => clock.restore())
      await judged(t, app, key, appCheckToken(KEY_A), 200, 'back up, after the interval')
    })
  }
})

t.test('a JWKS older than six hours is fetched again on next use, and kept if that fetch fails', async (t) => {
  const jwks = await startJwksServer(t, [KEY_A])
  const { app, key } = await attestedApp(t, jwks)
  await judged(t, app, key, appCheckToken(KEY_A), 200, 'fresh')
  const clock = fakeDateNow(CLOCK_START + 6 * 60 * 60 * 1000)
  t.teardown(() => clock.restore())
  jwks.mode = 'error'
  await judged(t, app, key, appCheckToken(KEY_A, { sub: 'later' }), 200, 'stale keys serve while the endpoint fails')
  t.equal(jwks.fetches, 2, 'it tried to refresh them')
})

t.test('20,000 random tokens keep the heap flat and fetch the JWKS at most once', async (t) => {
  const { setFlagsFromString } = await import('node:v8')
  const { runInNewContext } = await import('node:vm')
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const jwks = await startJwksServer(t, [KEY_A])
  const { app, key } = await attestedApp(t, jwks)
  const random = (i: number): string => `${b64({ alg: 'RS256', kid: `kid-${i}` })}.${b64({ iss: ISSUER, aud: AUDIENCE, exp: 9e9, n: i })}.${Buffer.from(String(Math.random())).toString('base64url')}`
  for (let i = 0; i < 1000; i++) await app.anonKey.verify(key, { attestationToken: random(i) })
  gc()
  const before = process.memoryUsage().heapUsed
  let refused = 0
  for (let i = 1000; i < 20_000; i++) {
    const verdict = await app.anonKey.verify(key, { attestationToken: random(i) })
    if (!verdict.valid && verdict.code === 'ANON_KEY_ATTESTATION_INVALID') refused += 1
  }
  gc()
  const grown = process.memoryUsage().heapUsed - before
  t.equal(refused, 19_000, 'every random token is refused')
  t.equal(jwks.fetches, 1, 'one JWKS fetch for 20,000 unknown kids')
  t.ok(grown < 5 * 1024 * 1024, `the heap grew by ${(grown / 1024 / 1024).toFixed(2)} MB over 19,000 tokens (at most 5 MB)`)
  await judged(t, app, key, appCheckToken(KEY_A), 200, 'a real token still passes')
})

t.test('attestation.verify plugs in another provider; a throw, a rejection or a hang refuses the token', async (t) => {
  const clock = fakeDateNow(CLOCK_START)
  t.teardown(() => clock.restore())
  const calls: Array<[string, unknown]> = []
  const app = await startApp(t, {
    attestation: {
      header: 'X-Play-Integrity',
      timeoutMs: 200,
      verify: async (token, request) => {
        calls.push([token, request?.url])
        if (token === 'good') return true
        if (token === 'cached') return { expiresAt: Date.now() + 1000 }
        if (token === 'throws') throw new Error('provider down')
        if (token === 'hangs') return await new Promise<boolean>(() => {})
        return false
      }
    }
  })
  const key = (await app.anonKey.createKey({ name: 'android', requireAttestation: true })).anonKey
  const use = (token: string) => useKeyFrom(app, key, { 'x-play-integrity': token })
  t.equal((await use('good')).statusCode, 200)
  t.equal((await use('good')).statusCode, 200)
  t.same(calls, [['good', '/data'], ['good', '/data']], 'a plain true is asked again each time, and verify gets the request')
  t.match(await app.anonKey.verify(key, { attestationToken: 'good' }), { valid: true })
  t.same(calls[2], ['good', undefined], 'from verify() there is no request')
  calls.length = 0
  t.equal((await use('cached')).statusCode, 200)
  t.equal((await use('cached')).statusCode, 200)
  t.equal(calls.length, 1, 'a verdict with expiresAt is kept until then')
  clock.advance(1000)
  assertError(t, await use('cached'), 401, 'ANON_KEY_ATTESTATION_INVALID')
  for (const token of ['bad', 'throws', 'hangs']) assertError(t, await use(token), 401, 'ANON_KEY_ATTESTATION_INVALID')
  assertError(t, await useKeyFrom(app, key, { 'x-firebase-appcheck': 'good' }), 401, 'ANON_KEY_ATTESTATION_REQUIRED')
})

t.test('tokens that end alike are never confused: each is verified, kept, and judged as itself', async (t) => {
  const clock = fakeDateNow(CLOCK_START)
  t.teardown(() => clock.restore())
  const tail = 's'.repeat(64)
  const calls: string[] = []
  const app = await startApp(t, {
    attestation: {
      verify: (token) => {
        calls.push(token)
        return token.startsWith('valid') && { expiresAt: Date.now() + 60_000 }
      }
    }
  })
  const key = (await app.anonKey.createKey({ name: 'mobile', requireAttestation: true })).anonKey
  const use = (token: string) => useKeyFrom(app, key, { [HEADER]: token })
  const [first, second, forged] = [`valid-1.${tail}`, `valid-2.${tail}`, `forged.${tail}`]
  t.equal((await use(first)).statusCode, 200)
  t.equal((await use(first)).statusCode, 200)
  t.same(calls, [first], 'a kept token is a lookup')
  assertError(t, await use(forged), 401, 'ANON_KEY_ATTESTATION_INVALID')
  t.equal((await use(first)).statusCode, 200, 'a refused token with the same tail leaves the kept one in place')
  t.same(calls, [first, forged], 'the forged token was asked about, and the kept one was not asked again')
  t.equal((await use(second)).statusCode, 200)
  t.equal((await use(first)).statusCode, 200)
  t.same(calls, [first, forged, second, first], 'two valid tokens with one tail take turns, each verified, never taken for the other')
  t.equal((await use('valid-short')).statusCode, 200)
  t.equal((await use('valid-short')).statusCode, 200)
  t.equal(calls.length, 5, 'a token shorter than the tail is kept whole')
  assertError(t, await use('forged-short'), 401, 'ANON_KEY_ATTESTATION_INVALID')
})

t.test('requireAttestation needs the attestation option; a key that has it on a server without it admits nothing', async (t) => {
  const app = await startApp(t)
  const refused = await keysRequest(app, 'POST', '', { name: 'mobile', requireAttestation: true })
  assertError(t, refused, 400, 'INVALID_INPUT')
  t.match(refused.json().message, /requireAttestation needs the plugin's attestation option/)
  t.match(refused.json().nextActions, /attestation: \{ issuer, audience \}/)
  assertError(t, await keysRequest(app, 'POST', '', { name: 'mobile', requireAttestation: 'yes' }), 400, 'INVALID_INPUT')
  await t.rejects(app.anonKey.createKey({ name: 'mobile', requireAttestation: 1 as never }), { code: 'INVALID_INPUT', message: /requireAttestation must be true or false/ })
  t.equal((await keysRequest(app, 'POST', '', { name: 'mobile', requireAttestation: false })).statusCode, 201)

  const store = memoryStore()
  const attested = await startApp(t, { store, attestation: { verify: () => true } })
  const plain = await startApp(t, { store })
  const key = (await attested.anonKey.createKey({ name: 'mobile', requireAttestation: true })).anonKey
  t.equal((await useKeyFrom(attested, key, { [HEADER]: 'token' })).statusCode, 200)
  assertError(t, await useKeyFrom(plain, key, { [HEADER]: 'token' }), 401, 'ANON_KEY_ATTESTATION_REQUIRED')
  t.same(await plain.anonKey.verify(key, { attestationToken: 'token' }), { valid: false, code: 'ANON_KEY_ATTESTATION_REQUIRED' }, 'fails closed')
})

t.test('a bad attestation option fails ready() naming the option and the fix', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [true, /option "attestation" must be an object\. Pass for Firebase App Check attestation: \{ issuer:/],
    [{ audience: 'projects/1' }, /option "attestation.issuer" is required to check tokens, got nothing\. For Firebase App Check it is 'https:\/\/firebaseappcheck.googleapis.com\/<project number>'/],
    [{ issuer: ISSUER }, /option "attestation.audience" must be a string or an array of strings, got nothing/],
    [{ issuer: ISSUER, audience: [] }, /attestation.audience/],
    [{ issuer: ISSUER, audience: ['ok', 7] }, /attestation.audience/],
    [{ issuer: ISSUER, audience: 'a', jwksUrl: 'file:///etc/passwd' }, /option "attestation.jwksUrl" must be an http\(s\) URL/],
    [{ issuer: ISSUER, audience: 'a', jwksUrl: 'not a url' }, /attestation.jwksUrl/],
    [{ verify: 'yes' }, /option "attestation.verify" must be a function/],
    [{ verify: () => true, issuer: ISSUER }, /option "attestation.issuer" has no use with attestation.verify/],
    [{ verify: () => true, header: 'authorization' }, /option "attestation.header" must be a header name of its own/],
    [{ verify: () => true, header: 'x app check' }, /attestation.header/],
    [{ verify: () => true, timeoutMs: 0 }, /option "attestation.timeoutMs" must be a whole number from 1 to 60000/],
    [{ verify: () => true, maxCachedTokens: 1.5 }, /attestation.maxCachedTokens/],
    [{ verify: () => true, jwks: 'x' }, /option "attestation.jwks" is not an option of attestation\. It takes header, jwksUrl/]
  ]
  for (const [attestation, message] of cases) {
    await t.rejects(startApp(t, { attestation: attestation as never }), { code: 'FST_ANON_KEY_INVALID_OPTION', message }, JSON.stringify(attestation))
  }
  await t.rejects(startApp(t, { apiKeyHeader: 'x-app', attestation: { verify: () => true, header: 'X-App' } }), { message: /attestation.header/ })
  await t.rejects(startApp(t, { apiKeyHeader: true, attestation: { verify: () => true, header: 'apikey' } }), { message: /attestation.header/ })
})
