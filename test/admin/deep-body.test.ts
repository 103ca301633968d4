import t from 'tap'
import { adminHeaders, assertError, currentKey, startApp } from '../helpers/app.js'

const ROTATE = '/api/secrets/anon-key/rotate'

/** Bodies nested as deep as `bodyLimit` allows, in every shape that nests. */
function deepBodies (bodyLimit: number): Array<[string, string]> {
  const arrays = Math.floor((bodyLimit - 2) / 2)
  const objects = Math.floor((bodyLimit - 30) / 6)
  return [
    ['arrays', '['.repeat(arrays) + ']'.repeat(arrays)],
    ['objects', '{"a":'.repeat(objects) + '1' + '}'.repeat(objects)],
    ['objects under gracePeriodHours', '{"gracePeriodHours":' + '{"a":'.repeat(objects - 4) + '1' + '}'.repeat(objects - 3)],
    ['arrays under gracePeriodHours', '{"gracePeriodHours":' + '['.repeat(arrays - 12) + ']'.repeat(arrays - 12) + '}'],
    ['objects and arrays mixed', '[{"a":'.repeat(Math.floor((bodyLimit - 1) / 8)) + '1' + '}]'.repeat(Math.floor((bodyLimit - 1) / 8))]
  ]
}

for (const bodyLimit of [1024, 6 * 1024, 64 * 1024, 1024 * 1024]) {
  t.test(`with bodyLimit ${bodyLimit}, a body nested as deep as it allows is 400 INVALID_INPUT, never 500, and rotates nothing`, async (t) => {
    const app = await startApp(t, { bodyLimit })
    const before = await currentKey(app)
    for (const [shape, body] of deepBodies(bodyLimit)) {
      t.ok(body.length <= bodyLimit, `${shape}: the body fits the limit`)
      const response = await app.inject({ method: 'POST', url: ROTATE, headers: { ...adminHeaders(), 'content-type': 'application/json' }, payload: body })
      assertError(t, response, 400, 'INVALID_INPUT')
    }
    t.equal(await currentKey(app), before, 'the key is untouched')
  })
}

t.test('a deep body that also names a property twice is still caught as a duplicate', async (t) => {
  const app = await startApp(t, { bodyLimit: 64 * 1024 })
  const deep = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000)
  const body = `{"gracePeriodHours":1,"x":${deep},"gracePeriodHours":0}`
  const response = await app.inject({ method: 'POST', url: ROTATE, headers: { ...adminHeaders(), 'content-type': 'application/json' }, payload: body })
  assertError(t, response, 400, 'INVALID_INPUT')
  t.equal(response.json().message, 'The body names a property twice.')
})
