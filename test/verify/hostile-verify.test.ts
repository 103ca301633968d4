import fc from 'fast-check'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import anonKey from '../../lib/index.js'
import { JWT_SECRET, adminToken } from '../helpers/app.js'
import { propertySettings } from '../helpers/property.js'

/** A host app as it runs in production: with a logger (captured), the plugin, and a guarded route. */
async function hostWithLogger (t: Test, options: { apiKeyHeader?: boolean } = {}): Promise<{ app: FastifyInstance, key: string, logs: string[] }> {
  const logs: string[] = []
  const app = Fastify({ logger: { level: 'info', stream: { write: (line: string) => { logs.push(line) } } } })
  await app.register(anonKey, { jwt: { secret: JWT_SECRET }, ...options })
  app.get('/data', { onRequest: app.verifyAnonKey }, async (request) => ({ fingerprint: request.anonKey?.fingerprint }))
  t.teardown(() => app.close())
  await app.ready()
  return { app, key: await app.anonKey.get() as string, logs }
}

/** The 401 every refused anon key gets, whatever the host logs. */
function checkRefusal (t: Test, response: { statusCode: number, body: string }, what: string): boolean {
  const body = JSON.parse(response.body)
  const ok = response.statusCode === 401 && body.error === 'AUTH_INVALID_CREDENTIALS' && body.statusCode === 401 &&
    typeof body.message === 'string' && typeof body.nextActions === 'string' && Object.keys(body).length === 4
  if (!ok) t.fail(`${what}: client got ${response.statusCode} ${response.body}`)
  return ok
}

/** One character of `key` replaced by another hex digit. */
function withCharacter (key: string, index: number, replacement: string): string {
  return key.slice(0, index) + replacement + key.slice(index + 1)
}

t.test('a refused anon key gets the contract\'s 401 on a host that logs requests (pino serializes the refusal)', async (t) => {
  const { app } = await hostWithLogger(t)
  const response = await app.inject({ url: '/data', headers: { authorization: 'Bearer anon_' + '0'.repeat(64) } })
  t.ok(checkRefusal(t, response, 'an unknown key'), 'the body is in the contract format, not Fastify\'s "Unauthorized"')
})

t.test('a key that differs from the current key in any single character, the last one included, is refused', async (t) => {
  const { app, key } = await hostWithLogger(t)
  let refused = 0
  for (let index = 5; index < key.length; index++) {
    const replacement = key[index] === 'f' ? '0' : 'f'
    if (checkRefusal(t, await app.inject({ url: '/data', headers: { authorization: `Bearer ${withCharacter(key, index, replacement)}` } }), `character ${index} changed`)) refused += 1
  }
  t.equal(refused, 64, 'all 64 one-character variants were refused')
  const valid = await app.inject({ url: '/data', headers: { authorization: `Bearer ${key}` } })
  t.equal(valid.statusCode, 200, 'the key itself verifies')
})

t.test('near misses of the current key are refused: case, prefix, padding, truncation, extension, encodings', async (t) => {
  const { app, key, logs } = await hostWithLogger(t, { apiKeyHeader: true })
  const hex = key.slice(5)
  const nearMisses = [
    key.toUpperCase(), 'ANON_' + hex, 'anon-' + hex, 'anon' + hex, hex, key.slice(0, -1), key + '0', key + ' x', ` ${key}`,
    `${key} `, `${key}\t`, key + '\u0000', key.replace('a', 'а'), Buffer.from(key).toString('base64'), encodeURIComponent(key) + '%00',
    'anon_' + hex.slice(0, 32), `${key},${key}`, `"${key}"`, adminToken(), 'anon_' + '0'.repeat(64), ''
  ]
  let refused = 0
  for (const candidate of nearMisses) {
    if (checkRefusal(t, await app.inject({ url: '/data', headers: { authorization: `Bearer ${candidate}` } }), `Bearer ${JSON.stringify(candidate)}`)) refused += 1
    if (checkRefusal(t, await app.inject({ url: '/data', headers: { apikey: candidate } }), `apikey ${JSON.stringify(candidate)}`)) refused += 1
  }
  for (const authorization of [key, `Basic ${key}`, `Bearer  ${key}`, `Bearer\t${key}`, `Bearer${key}`, `Token ${key}`]) {
    if (checkRefusal(t, await app.inject({ url: '/data', headers: { authorization } }), `authorization ${JSON.stringify(authorization)}`)) refused += 1
  }
  t.notOk(logs.join('\n').includes(hex), 'no log line holds the key whole, refused requests included')
  // The query string is never read (Fastify's own request log does record the URL, so clients must not put keys there).
  if (checkRefusal(t, await app.inject({ url: `/data?apikey=${key}&access_token=${key}` }), 'the key in the query string')) refused += 1
  t.equal(refused, nearMisses.length * 2 + 7, 'every near miss was refused')
  t.comment(`${refused} near misses of the current key refused`)
})

t.test('generated Authorization and apikey values never get through and never cause anything but a 401', async (t) => {
  const { app, key } = await hostWithLogger(t, { apiKeyHeader: true })
  const settings = propertySettings(t, 500)
  const printable = fc.string({ unit: fc.constantFrom(...' !#$%&()*+,-./0123456789:;<=>?@ABCDEFXYZ[]^_`abcdefnoxyz{|}~'.split('')), maxLength: 120 })
  const value = fc.oneof(
    printable,
    printable.map((text) => `Bearer ${text}`),
    fc.tuple(fc.nat({ max: 63 }), fc.constantFrom(...'0123456789abcdefABCDEFg_ '.split(''))).map(([index, c]) => `Bearer ${withCharacter(key, index + 5, c)}`),
    fc.stringMatching(/^[0-9a-f]{64}$/).map((hex) => `Bearer anon_${hex}`)
  ).filter((candidate) => candidate !== `Bearer ${key}` && candidate !== `bearer ${key}`)
  let sent = 0
  await fc.assert(fc.asyncProperty(value, fc.boolean(), async (candidate, asApiKey) => {
    sent += 1
    const headers = asApiKey ? { apikey: candidate.replace(/^Bearer /, '') } : { authorization: candidate }
    return checkRefusal(t, await app.inject({ url: '/data', headers }), JSON.stringify(headers))
  }), settings)
  t.comment(`${sent} generated credentials refused`)
})
