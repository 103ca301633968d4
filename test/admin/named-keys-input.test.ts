import t from 'tap'
import { adminHeaders, assertError, startApp } from '../helpers/app.js'
import { createNamedKey, keysRequest } from '../helpers/named-keys.js'

t.test('create bodies that are not exactly { name, description?, allowedOrigins? } are 400 and create nothing', async (t) => {
  const app = await startApp(t)
  const refused: Array<[unknown, RegExp]> = [
    [{}, /name is required/],
    [{ name: 'Web' }, /name is required and must be a lowercase letter/],
    [{ name: '1web' }, /name/],
    [{ name: 'w'.repeat(33) }, /name/],
    [{ name: 42 }, /name/],
    [{ name: null }, /name/],
    [{ name: 'web', nam: 'x' }, /Unknown property "nam": the body accepts only name, description, allowedOrigins/],
    [{ name: 'web', description: 7 }, /description must be a string of at most 200/],
    [{ name: 'web', description: 'x'.repeat(201) }, /description/],
    [{ name: 'web', allowedOrigins: [] }, /allowedOrigins must be null or an array of 1 to 50/],
    [{ name: 'web', allowedOrigins: 'https://a.com' }, /allowedOrigins/],
    [{ name: 'web', allowedOrigins: [42] }, /allowedOrigins/],
    [{ name: 'web', allowedOrigins: new Array(51).fill('https://a.com') }, /allowedOrigins/],
    [{ name: 'web', allowedOrigins: ['https://a.com/'] }, /allowedOrigins\[0\] "https:\/\/a.com\/" must not end with a slash/],
    [{ name: 'web', allowedOrigins: ['https://a.com', 'ftp://b.com'] }, /allowedOrigins\[1\]/],
    [{ name: 'web', allowedOrigins: ['https://*.*.a.com'] }, /wildcard/],
    [[{ name: 'web' }], /JSON object such as \{"name": "web"\}/],
    ['"web"', /JSON object/],
    ['null', /JSON object/]
  ]
  for (const [body, message] of refused) {
    const response = await keysRequest(app, 'POST', '', body)
    assertError(t, response, 400, 'INVALID_INPUT')
    t.match(response.json().message, message, `${JSON.stringify(body).slice(0, 80)}: ${response.json().message}`)
  }
  assertError(t, await keysRequest(app, 'POST'), 400, 'INVALID_INPUT')
  assertError(t, await keysRequest(app, 'POST', '', '{"name": "web", "name": "ios"}'), 400, 'INVALID_INPUT')
  const text = await app.inject({ method: 'POST', url: '/api/secrets/anon-keys', headers: { ...adminHeaders(), 'content-type': 'text/plain' }, payload: 'web' })
  assertError(t, text, 415, 'UNSUPPORTED_MEDIA_TYPE')
  t.same((await keysRequest(app, 'GET')).json().anonKeys.map((key: { name: string }) => key.name), ['default'], 'nothing was created')
})

t.test('patch bodies must name at least one of description and allowedOrigins, and nothing else', async (t) => {
  const app = await startApp(t)
  const web = await createNamedKey(app, { name: 'web', description: 'Web', allowedOrigins: ['https://a.com'] })
  const refused: Array<[unknown, RegExp]> = [
    [{}, /at least one of description, allowedOrigins/],
    [{ name: 'ios' }, /Unknown property "name": the body accepts only description, allowedOrigins/],
    [{ description: null }, /description/],
    [{ allowedOrigins: ['https://a.com?x'] }, /query/],
    [{ allowedOrigins: 'null' }, /allowedOrigins/]
  ]
  for (const [body, message] of refused) {
    const response = await keysRequest(app, 'PATCH', '/web', body)
    assertError(t, response, 400, 'INVALID_INPUT')
    t.match(response.json().message, message, `${JSON.stringify(body)}: ${response.json().message}`)
  }
  assertError(t, await keysRequest(app, 'PATCH', '/web'), 400, 'INVALID_INPUT')
  t.same((await keysRequest(app, 'GET', '/web')).json(), web, 'nothing changed')
})

t.test('a bad name or fingerprint in the path is 400 naming it; an unknown name is 404', async (t) => {
  const app = await startApp(t)
  for (const [method, path] of [['GET', '/Web'], ['PATCH', '/web!'], ['DELETE', '/-x'], ['POST', '/WEB/rotate'], ['GET', '/a%20b/previous'], ['DELETE', '/' + 'a'.repeat(33) + '/previous']] as const) {
    const response = await keysRequest(app, method, path, method === 'PATCH' ? { description: 'x' } : undefined)
    assertError(t, response, 400, 'INVALID_INPUT')
    t.match(response.json().message, /key name in the path/, `${method} ${path}`)
  }
  const fingerprint = await keysRequest(app, 'DELETE', '/default/previous/XYZ')
  assertError(t, fingerprint, 400, 'INVALID_INPUT')
  t.match(fingerprint.json().message, /fingerprint/)
  for (const [method, path] of [['GET', '/web'], ['POST', '/web/rotate'], ['GET', '/web/previous'], ['DELETE', '/web/previous'], ['DELETE', '/web/previous/0123456789ab']] as const) {
    assertError(t, await keysRequest(app, method, path), 404, 'NOT_FOUND')
  }
})

t.test('a named rotate body is as strict as the seed one', async (t) => {
  const app = await startApp(t)
  await createNamedKey(app, { name: 'web' })
  for (const body of [{ gracePeriodHours: null }, { gracePeriodHours: '24' }, { gracePeriodHours: 1.5 }, { gracePeriodHours: -1 }, { gracePeriodHours: 721 }, { gracePeriodHour: 1 }, []]) {
    assertError(t, await keysRequest(app, 'POST', '/web/rotate', body), 400, 'INVALID_INPUT')
  }
  t.same((await keysRequest(app, 'GET', '/web/previous')).json(), { previousKeys: [] }, 'no rotation happened')
  t.equal((await keysRequest(app, 'POST', '/web/rotate', {})).statusCode, 200)
})
