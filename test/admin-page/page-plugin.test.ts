import swagger from '@fastify/swagger'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import anonKey, { type FastifyAnonKeyOptions } from '../../lib/index.js'
import anonKeyAdminPageDefault, { anonKeyAdminPage, type AnonKeyAdminPageOptions } from '../../lib/admin-page/index.js'
import { adminHeaders, JWT_SECRET } from '../helpers/app.js'
import { isTenantAdmin, tenantFromHeader } from '../helpers/tenants.js'
import { PAGE_FILES, PAGE_WEIGHT_LIMIT } from '../helpers/admin-page.js'

async function pageApp (t: Test, page: AnonKeyAdminPageOptions = {}, plugin: FastifyAnonKeyOptions = {}, host = Fastify()): Promise<FastifyInstance> {
  t.teardown(() => host.close())
  await host.register(anonKey, { jwt: { secret: JWT_SECRET }, ...plugin })
  await host.register(anonKeyAdminPage, page)
  await host.ready()
  return host
}

/** The settings the page's script reads from its <html> element. */
function settingsOf (html: string): Record<string, string> {
  const root = /<html ([^>]*)>/.exec(html)?.[1] ?? ''
  return Object.fromEntries([...root.matchAll(/data-([a-z-]+)="([^"]*)"/g)].map(([, name, value]) => [name, value]))
}

t.test('the default export is the page plugin, named for fastify-plugin', async (t) => {
  t.equal(anonKeyAdminPageDefault, anonKeyAdminPage)
  t.equal((anonKeyAdminPage as any)[Symbol.for('plugin-meta')].name, 'fastify-anon-key-admin-page')
  t.equal((anonKeyAdminPage as any)[Symbol.for('plugin-meta')].fastify, '5.x')
})

t.test('the page is served at /anon-keys/ with its script and style sheet, under a strict Content-Security-Policy', async (t) => {
  const app = await pageApp(t)
  for (const [path, type] of PAGE_FILES) {
    const response = await app.inject(`/anon-keys/${path}`)
    t.equal(response.statusCode, 200, path)
    t.equal(response.headers['content-type'], type, path)
    const csp = String(response.headers['content-security-policy'])
    t.match(csp, /default-src 'none'/, `${path}: nothing is allowed unless named`)
    t.match(csp, /script-src 'self'(;|$)/, `${path}: scripts only from the page's own origin`)
    t.notMatch(csp, /unsafe-inline|unsafe-eval|https?:|\*/, `${path}: no inline script, no eval, no other host`)
    t.match(csp, /frame-ancestors 'none'/)
    t.match(csp, /require-trusted-types-for 'script'/)
    t.equal(response.headers['x-content-type-options'], 'nosniff')
    t.equal(response.headers['referrer-policy'], 'no-referrer')
  }
})

t.test('the page, its script and its style sheet weigh under 150 KiB together', async (t) => {
  const app = await pageApp(t)
  let bytes = 0
  for (const [path] of PAGE_FILES) bytes += (await app.inject(`/anon-keys/${path}`)).rawPayload.length
  t.ok(bytes < PAGE_WEIGHT_LIMIT, `${bytes} bytes, under ${PAGE_WEIGHT_LIMIT}`)
})

t.test('the page loads nothing from elsewhere: no inline script, no absolute address', async (t) => {
  const app = await pageApp(t)
  const html = (await app.inject('/anon-keys/')).body
  t.same([...html.matchAll(/<script[^>]*>/g)].map(([tag]) => tag), ['<script type="module" src="admin-page.js">'], 'one script, a file of the page')
  t.notMatch(html, /<script[^>]*>[^<]/, 'no inline script')
  t.notMatch(html, / (src|href)="(https?:|\/\/)/, 'no address on another host')
  t.notMatch(html, / on[a-z]+=/, 'no inline event handler')
  const script = (await app.inject('/anon-keys/admin-page.js')).body
  t.notMatch(script, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/, 'the script names no host but the SVG namespace')
  t.notMatch(script, /\binnerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/, 'and writes no HTML string')
})

t.test('/anon-keys redirects to /anon-keys/, where the page\'s relative addresses resolve', async (t) => {
  const app = await pageApp(t)
  const response = await app.inject('/anon-keys')
  t.equal(response.statusCode, 302)
  t.equal(response.headers.location, 'anon-keys/')
})

t.test('an unchanged file answers 304 to its ETag', async (t) => {
  const app = await pageApp(t)
  const first = await app.inject('/anon-keys/admin-page.js')
  t.match(first.headers.etag, /^"[A-Za-z0-9_-]+"$/)
  t.equal(first.headers['cache-control'], 'no-cache', 'revalidated on each load, so an upgrade shows at once')
  const again = await app.inject({ url: '/anon-keys/admin-page.js', headers: { 'if-none-match': String(first.headers.etag) } })
  t.equal(again.statusCode, 304)
  t.equal(again.body, '')
  const changed = await app.inject({ url: '/anon-keys/admin-page.js', headers: { 'if-none-match': '"other"' } })
  t.equal(changed.statusCode, 200)
})

t.test('the page tells its script where the admin routes are, relative to the page, and the grace bounds', async (t) => {
  const app = await pageApp(t, {}, { defaultGracePeriodHours: 24, maxGracePeriodHours: 48 })
  t.same(settingsOf((await app.inject('/anon-keys/')).body), {
    'api-base': '../api/', 'tenant-header': '', 'default-grace-hours': '24', 'max-grace-hours': '48'
  })
})

t.test('routePrefix, the plugin\'s prefix and the host\'s prefix all count in the relative path to the admin routes', async (t) => {
  const host = Fastify()
  t.teardown(() => host.close())
  await host.register(async (v1) => {
    await v1.register(anonKey, { jwt: { secret: JWT_SECRET }, prefix: '/admin-api' })
    await v1.register(anonKeyAdminPage, { routePrefix: '/tools/keys' })
  }, { prefix: '/v1' })
  await host.ready()
  const page = await host.inject('/v1/tools/keys/')
  t.equal(page.statusCode, 200)
  const apiBase = settingsOf(page.body)['api-base']
  t.equal(apiBase, '../../../v1/admin-api/')
  const resolved = new URL(`${apiBase}secrets/anon-keys`, 'http://host/v1/tools/keys/')
  t.equal(resolved.pathname, '/v1/admin-api/secrets/anon-keys')
  t.equal((await host.inject({ url: resolved.pathname, headers: adminHeaders() })).statusCode, 200, 'where the admin routes answer')
  t.equal((await host.inject('/v1/tools/keys')).headers.location, 'keys/')
})

t.test('an empty prefix of the plugin puts the admin routes at the page\'s parent folder', async (t) => {
  const app = await pageApp(t, {}, { prefix: '' })
  t.equal(settingsOf((await app.inject('/anon-keys/')).body)['api-base'], '../')
})

t.test('the page works on a host with ignoreTrailingSlash', async (t) => {
  const app = await pageApp(t, {}, {}, Fastify({ routerOptions: { ignoreTrailingSlash: true } }))
  t.equal((await app.inject('/anon-keys/')).statusCode, 200)
  t.equal((await app.inject('/anon-keys')).headers.location, 'anon-keys/')
})

t.test('in tenant mode, tenantHeader reaches the page, lowercased', async (t) => {
  const app = await pageApp(t, { tenantHeader: 'X-Tenant' }, { tenant: tenantFromHeader, isAdmin: isTenantAdmin })
  t.equal(settingsOf((await app.inject('/anon-keys/')).body)['tenant-header'], 'x-tenant')
})

t.test('the page adds only its own GET routes, and the OpenAPI document leaves them out', async (t) => {
  const host = Fastify()
  t.teardown(() => host.close())
  await host.register(swagger, { openapi: { info: { title: 'host', version: '1' } } })
  await host.register(anonKey, { jwt: { secret: JWT_SECRET } })
  const methods = new Set<string>()
  const paths = new Set<string>()
  host.addHook('onRoute', (route) => {
    if (route.url.includes('/api/')) return
    for (const method of [route.method].flat()) methods.add(method)
    paths.add(route.url)
  })
  await host.register(anonKeyAdminPage)
  await host.ready()
  t.same([...methods].sort(), ['GET', 'HEAD'], 'read-only routes')
  t.same([...paths].sort(), ['/anon-keys', '/anon-keys/', '/anon-keys/admin-page.css', '/anon-keys/admin-page.js'])
  const documented = Object.keys((host.swagger() as { paths: Record<string, unknown> }).paths)
  t.notOk(documented.some((path) => path.startsWith('/anon-keys')), 'no page route in the document')
})

t.test('the page holds no secret: the same bytes whatever the plugin\'s JWT secret', async (t) => {
  const one = await pageApp(t, {}, { jwt: { secret: 'one-secret-that-is-long-enough-for-hs256' } })
  const other = await pageApp(t, {}, { jwt: { secret: 'another-secret-that-is-long-enough-for-hs' } })
  for (const [path] of PAGE_FILES) t.equal((await one.inject(`/anon-keys/${path}`)).body, (await other.inject(`/anon-keys/${path}`)).body, path)
})

t.test('mounted in a context with the host\'s own auth hook, the page and its files answer only past that hook', async (t) => {
  const host = Fastify()
  t.teardown(() => host.close())
  await host.register(anonKey, { jwt: { secret: JWT_SECRET } })
  await host.register(async (staff) => {
    staff.addHook('onRequest', async (request, reply) => {
      if (request.headers['x-staff'] !== 'yes') await reply.code(401).send({ error: 'staff only' })
    })
    await staff.register(anonKeyAdminPage)
  })
  await host.ready()
  for (const [path] of PAGE_FILES) {
    t.equal((await host.inject(`/anon-keys/${path}`)).statusCode, 401, `${path} without the host's auth`)
    t.equal((await host.inject({ url: `/anon-keys/${path}`, headers: { 'x-staff': 'yes' } })).statusCode, 200, `${path} with it`)
  }
})

t.test('registered without fastify-anon-key, ready() says to register the plugin first', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(anonKeyAdminPage)
  await t.rejects(async () => { await app.ready() }, {
    code: 'FST_ANON_KEY_NOT_REGISTERED',
    message: /fastify-anon-key is not registered in this context or a parent of it.*Register fastify-anon-key first, then the page/
  })
})

t.test('a sibling context of the plugin does not see it either', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(async (one) => { await one.register(anonKey, { jwt: { secret: JWT_SECRET } }) })
  app.register(async (other) => { await other.register(anonKeyAdminPage) })
  await t.rejects(async () => { await app.ready() }, { code: 'FST_ANON_KEY_NOT_REGISTERED' })
})

t.test('a bad option fails ready() with a message that names it and the fix', async (t) => {
  const cases: Array<[string, unknown, FastifyAnonKeyOptions, { code: string, message: RegExp }]> = [
    ['an unknown option', { routPrefix: '/keys' }, {}, { code: 'FST_ANON_KEY_UNKNOWN_OPTION', message: /unknown option "routPrefix"\. Did you mean "routePrefix"\?/ }],
    ['Fastify\'s prefix, which a fastify-plugin plugin ignores', { prefix: '/keys' }, {}, { code: 'FST_ANON_KEY_UNKNOWN_OPTION', message: /unknown option "prefix"\. The page is served at routePrefix/ }],
    ['a routePrefix with a trailing slash', { routePrefix: '/keys/' }, {}, { code: 'FST_ANON_KEY_INVALID_OPTION', message: /option "routePrefix" must be a path such as '\/anon-keys'.*got "\/keys\/"/ }],
    ['a routePrefix without a leading slash', { routePrefix: 'keys' }, {}, { code: 'FST_ANON_KEY_INVALID_OPTION', message: /option "routePrefix"/ }],
    ['a routePrefix that is not a string', { routePrefix: 42 }, {}, { code: 'FST_ANON_KEY_INVALID_OPTION', message: /option "routePrefix".*got 42/ }],
    ['tenantHeader without tenant mode', { tenantHeader: 'x-tenant' }, {}, { code: 'FST_ANON_KEY_INVALID_OPTION', message: /option "tenantHeader" only applies in tenant mode.*give fastify-anon-key the tenant\(request\)/ }],
    ['tenantHeader authorization', { tenantHeader: 'Authorization' }, { tenant: tenantFromHeader, isAdmin: isTenantAdmin }, { code: 'FST_ANON_KEY_INVALID_OPTION', message: /option "tenantHeader" must be the name of the header.*not authorization/ }],
    ['a tenantHeader that is no header name', { tenantHeader: 'x tenant' }, { tenant: tenantFromHeader, isAdmin: isTenantAdmin }, { code: 'FST_ANON_KEY_INVALID_OPTION', message: /option "tenantHeader".*got "x tenant"/ }],
    ['a tenantHeader that is not a string', { tenantHeader: true }, { tenant: tenantFromHeader, isAdmin: isTenantAdmin }, { code: 'FST_ANON_KEY_INVALID_OPTION', message: /option "tenantHeader".*got true/ }]
  ]
  for (const [label, page, plugin, expected] of cases) {
    const app = Fastify()
    t.teardown(() => app.close())
    app.register(anonKey, { jwt: { secret: JWT_SECRET }, ...plugin })
    app.register(anonKeyAdminPage, page as AnonKeyAdminPageOptions)
    await t.rejects(async () => { await app.ready() }, expected, label)
  }
})

t.test('Fastify\'s logLevel is not an unknown option', async (t) => {
  const app = await pageApp(t, { logLevel: 'warn' } as AnonKeyAdminPageOptions)
  t.equal((await app.inject('/anon-keys/')).statusCode, 200)
})
