import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { adminHeaders, assertError, currentKey, startApp } from '../helpers/app.js'

const HOUR_MS = 60 * 60 * 1000

interface RawRotate {
  payload?: string
  contentType?: string
}

function rawRotate (app: FastifyInstance, { payload, contentType }: RawRotate) {
  return app.inject({
    method: 'POST',
    url: '/api/secrets/anon-key/rotate',
    headers: { ...adminHeaders(), ...(contentType === undefined ? {} : { 'content-type': contentType }) },
    payload
  })
}

/** The grace the response says the old key got, in whole hours. */
function graceHoursOf (response: { json: () => any }, sentAt: number): number {
  return Math.round((Date.parse(response.json().oldKeyExpiresAt) - sentAt) / HOUR_MS)
}

const accepted: Array<{ name: string, request: RawRotate, grace: number }> = [
  { name: 'no body and no content-type', request: {}, grace: 168 },
  { name: 'no body with content-type: application/json', request: { contentType: 'application/json' }, grace: 168 },
  { name: 'an empty body with content-type: application/json', request: { payload: '', contentType: 'application/json' }, grace: 168 },
  { name: 'a body of blanks with content-type: application/json', request: { payload: '  \n', contentType: 'application/json' }, grace: 168 },
  { name: '{}', request: { payload: '{}', contentType: 'application/json' }, grace: 168 },
  { name: '{"gracePeriodHours": 0}', request: { payload: '{"gracePeriodHours": 0}', contentType: 'application/json' }, grace: 0 },
  { name: '{"gracePeriodHours": 1}', request: { payload: '{"gracePeriodHours": 1}', contentType: 'application/json' }, grace: 1 },
  { name: '{"gracePeriodHours": 720}', request: { payload: '{"gracePeriodHours": 720}', contentType: 'application/json' }, grace: 720 },
  { name: 'application/json; charset=utf-8', request: { payload: '{"gracePeriodHours": 2}', contentType: 'application/json; charset=utf-8' }, grace: 2 }
]

for (const { name, request, grace } of accepted) {
  t.test(`rotate accepts ${name} and gives the old key ${grace} h`, async (t) => {
    const app = await startApp(t)
    const before = await currentKey(app)
    const sentAt = Date.now()
    const response = await rawRotate(app, request)
    t.equal(response.statusCode, 200, `client got ${response.statusCode} ${response.body}`)
    t.equal(graceHoursOf(response, sentAt), grace, `oldKeyExpiresAt was ${response.json().oldKeyExpiresAt}`)
    t.not(await currentKey(app), before, 'the key should have changed')
  })
}

const rejected: Array<{ name: string, payload: string }> = [
  { name: 'null', payload: 'null' },
  { name: 'the string "24"', payload: '"24"' },
  { name: 'true', payload: 'true' },
  { name: 'false', payload: 'false' },
  { name: '42 as the whole body', payload: '42' },
  { name: 'the string "str"', payload: '"str"' },
  { name: '[]', payload: '[]' },
  { name: '[24]', payload: '[24]' },
  { name: '{"gracePeriodHours": 1.5}', payload: '{"gracePeriodHours": 1.5}' },
  { name: '{"gracePeriodHours": -1}', payload: '{"gracePeriodHours": -1}' },
  { name: '{"gracePeriodHours": 721}', payload: '{"gracePeriodHours": 721}' },
  { name: '{"gracePeriodHours": null}', payload: '{"gracePeriodHours": null}' },
  { name: '{"gracePeriodHours": "24"}', payload: '{"gracePeriodHours": "24"}' },
  { name: '{"gracePeriodHours": true}', payload: '{"gracePeriodHours": true}' },
  { name: '{"gracePeriodHours": [24]}', payload: '{"gracePeriodHours": [24]}' },
  { name: 'the typo {"gracePeriodHour": 24}', payload: '{"gracePeriodHour": 24}' },
  { name: 'an extra property next to gracePeriodHours', payload: '{"gracePeriodHours": 24, "force": true}' },
  { name: 'malformed JSON', payload: '{"gracePeriodHours": ' },
  { name: 'JSON with a trailing comma', payload: '{"gracePeriodHours": 24,}' }
]

for (const { name, payload } of rejected) {
  t.test(`rotate rejects ${name} with 400 INVALID_INPUT and leaves the key unchanged`, async (t) => {
    const app = await startApp(t)
    const before = await currentKey(app)
    const response = await rawRotate(app, { payload, contentType: 'application/json' })
    assertError(t, response, 400, 'INVALID_INPUT')
    t.equal(await currentKey(app), before, `the key changed although the client got ${response.statusCode}`)
    t.same(await app.anonKey.listPrevious(), [], 'no previous key should have been made')
  })
}

t.test('a bad gracePeriodHours is named in the message with the allowed range', async (t) => {
  const app = await startApp(t)
  const response = await rawRotate(app, { payload: '{"gracePeriodHours": null}', contentType: 'application/json' })
  t.equal(response.json().message, 'gracePeriodHours must be an integer from 0 to 720')
})

t.test('a typo property is named in the message', async (t) => {
  const app = await startApp(t)
  const response = await rawRotate(app, { payload: '{"gracePeriodHour": 24}', contentType: 'application/json' })
  t.match(response.json().message, /gracePeriodHour\b/)
})

t.test('a custom maxGracePeriodHours accepts its maximum and rejects one more', async (t) => {
  const app = await startApp(t, { maxGracePeriodHours: 48, defaultGracePeriodHours: 24 })
  const sentAt = Date.now()
  const atMax = await rawRotate(app, { payload: '{"gracePeriodHours": 48}', contentType: 'application/json' })
  t.equal(atMax.statusCode, 200, `client got ${atMax.statusCode} ${atMax.body}`)
  t.equal(graceHoursOf(atMax, sentAt), 48)
  const before = await currentKey(app)
  const over = await rawRotate(app, { payload: '{"gracePeriodHours": 49}', contentType: 'application/json' })
  assertError(t, over, 400, 'INVALID_INPUT')
  t.equal(over.json().message, 'gracePeriodHours must be an integer from 0 to 48')
  t.equal(await currentKey(app), before)
  const byDefault = await rawRotate(app, {})
  t.equal(graceHoursOf(byDefault, Date.now()), 24, 'no body uses defaultGracePeriodHours')
})

for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
  t.test(`rotate answers 415 UNSUPPORTED_MEDIA_TYPE for a ${contentType} body and leaves the key unchanged`, async (t) => {
    const app = await startApp(t)
    const before = await currentKey(app)
    const response = await rawRotate(app, { payload: 'gracePeriodHours=24', contentType })
    assertError(t, response, 415, 'UNSUPPORTED_MEDIA_TYPE')
    t.equal(await currentKey(app), before)
  })
}

t.test('rotate answers 415 UNSUPPORTED_MEDIA_TYPE for a body without a content type', async (t) => {
  const app = await startApp(t)
  const response = await app.inject({
    method: 'POST',
    url: '/api/secrets/anon-key/rotate',
    headers: { ...adminHeaders(), 'content-length': '2' },
    payload: Buffer.from('{}')
  })
  assertError(t, response, 415, 'UNSUPPORTED_MEDIA_TYPE')
})

t.test('rotate answers 413 PAYLOAD_TOO_LARGE for a body over the limit and leaves the key unchanged', async (t) => {
  const app = await startApp(t)
  const before = await currentKey(app)
  const payload = JSON.stringify({ gracePeriodHours: 24, padding: 'x'.repeat(2000) })
  const response = await rawRotate(app, { payload, contentType: 'application/json' })
  assertError(t, response, 413, 'PAYLOAD_TOO_LARGE')
  t.equal(await currentKey(app), before)
})

t.test('the bodyLimit option sets the size limit of the rotate body', async (t) => {
  const app = await startApp(t, { bodyLimit: 64 })
  const payload = JSON.stringify({ gracePeriodHours: 24, x: 'y'.repeat(60) })
  assertError(t, await rawRotate(app, { payload, contentType: 'application/json' }), 413, 'PAYLOAD_TOO_LARGE')
  const small = await rawRotate(app, { payload: '{"gracePeriodHours": 24}', contentType: 'application/json' })
  t.equal(small.statusCode, 200, `client got ${small.statusCode} ${small.body}`)
})
