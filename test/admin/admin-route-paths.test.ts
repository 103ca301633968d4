import Fastify from 'fastify'
import t from 'tap'
import { adminHeaders, assertError, JWT_SECRET, listPrevious, rotate } from '../helpers/app.js'
import anonKey from '../../lib/index.js'

/** Router options a host may set, each of which routes a URL other than the exact one to revoke-all. */
const routerOptions: Array<[string, Record<string, unknown>]> = [
  ['ignoreTrailingSlash', { routerOptions: { ignoreTrailingSlash: true } }],
  ['ignoreDuplicateSlashes', { routerOptions: { ignoreDuplicateSlashes: true } }],
  ['ignoreTrailingSlash and ignoreDuplicateSlashes', { routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true } }],
  ['caseSensitive: false', { routerOptions: { caseSensitive: false, ignoreTrailingSlash: true } }],
  ['useSemicolonDelimiter', { routerOptions: { useSemicolonDelimiter: true, ignoreTrailingSlash: true } }]
]

const emptyFingerprints = [
  '/api/secrets/anon-key/previous/',
  '/api/secrets/anon-key/previous//',
  '/api/secrets/anon-key/previous/?all=1',
  '/api/secrets/anon-key/previous/;x',
  '/api/secrets//anon-key/previous/',
  '/API/SECRETS/ANON-KEY/PREVIOUS/'
]

for (const [name, options] of routerOptions) {
  t.test(`with the host's ${name}, DELETE of an empty fingerprint revokes nothing: 400 INVALID_INPUT`, async (t) => {
    const app = Fastify(options)
    t.teardown(() => app.close())
    app.register(anonKey, { jwt: { secret: JWT_SECRET } })
    await app.ready()
    await rotate(app)
    await rotate(app)
    for (const url of emptyFingerprints) {
      const response = await app.inject({ method: 'DELETE', url, headers: adminHeaders() })
      t.ok(response.statusCode >= 400 && response.statusCode < 500, `${url}: client got ${response.statusCode} ${response.body}`)
      if (response.statusCode === 400) assertError(t, response, 400, 'INVALID_INPUT')
      t.equal((await listPrevious(app)).length, 2, `${url} revoked nothing`)
    }
    const all = await app.inject({ method: 'DELETE', url: '/api/secrets/anon-key/previous', headers: adminHeaders() })
    t.same(all.json(), { success: true, revoked: 2 }, 'the exact path still revokes every previous key')
  })
}

t.test('the 400 for an empty fingerprint says how to revoke everything', async (t) => {
  const app = Fastify({ routerOptions: { ignoreTrailingSlash: true } })
  t.teardown(() => app.close())
  app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  await app.ready()
  const response = await app.inject({ method: 'DELETE', url: '/api/secrets/anon-key/previous/', headers: adminHeaders() })
  t.match(response.json().message, /without a trailing slash/)
  t.match(response.json().nextActions, /GET \/api\/secrets\/anon-key\/previous/, 'the advice is about fingerprints, not the rotate body')
})

t.test('answers that carry a whole key say Cache-Control: no-store; the others need not', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  await app.ready()
  const get = await app.inject({ url: '/api/metadata/anon-key', headers: adminHeaders() })
  t.equal(get.headers['cache-control'], 'no-store', 'GET')
  const rotated = await rotate(app, { gracePeriodHours: 1 })
  t.equal(rotated.headers['cache-control'], 'no-store', 'rotate')
  t.same(Object.keys(rotated.json()).sort(), ['anonKey', 'message', 'oldKeyExpiresAt', 'success'], 'the rotate answer keeps exactly its four fields')
})
