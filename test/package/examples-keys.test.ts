import { request as httpRequest } from 'node:http'
import { createSigner } from 'fast-jwt'
import t from 'tap'
import { build as buildMultiTenant, PLATFORM_DOMAIN } from '../../examples/multi-tenant.js'
import { build as buildPlatformKeys, WEB_ORIGINS } from '../../examples/platform-keys.js'
import { memoryStore } from '../../lib/index.js'
import { adminHeaders, bearer, JWT_SECRET } from '../helpers/app.js'
import { runExampleScript } from '../helpers/example-script.js'

// Two examples start as scripts here, each loading TypeScript afresh.
t.setTimeout(120_000)

t.test('platform keys: web only from its origins, ios anywhere, web rotated alone', async (t) => {
  const store = memoryStore()
  const app = await buildPlatformKeys(JWT_SECRET, store)
  t.teardown(() => app.close())
  const keys = Object.fromEntries((await app.anonKey.listKeys()).map((key) => [key.name, key]))
  t.same(Object.keys(keys), ['default', 'ios', 'web'])
  t.same(keys.web.allowedOrigins, WEB_ORIGINS)
  const fromApp = await app.inject({ url: '/catalog', headers: { ...bearer(keys.web.anonKey), origin: 'https://app.example.com' } })
  t.same(fromApp.json(), { platform: 'web' })
  t.equal((await app.inject({ url: '/catalog', headers: { ...bearer(keys.web.anonKey), origin: 'https://pr-3.preview.example.com' } })).statusCode, 200)
  t.equal((await app.inject({ url: '/catalog', headers: { ...bearer(keys.web.anonKey), origin: 'https://evil.example' } })).json().error, 'ANON_KEY_ORIGIN_NOT_ALLOWED')
  t.same((await app.inject({ url: '/catalog', headers: bearer(keys.ios.anonKey) })).json(), { platform: 'ios' })
  const rotated = await app.inject({ method: 'POST', url: '/api/secrets/anon-keys/web/rotate', headers: adminHeaders() })
  t.equal(rotated.statusCode, 200)
  t.equal((await app.inject({ url: '/catalog', headers: bearer(keys.ios.anonKey) })).statusCode, 200, 'ios kept its key')
  const again = await buildPlatformKeys(JWT_SECRET, store)
  t.teardown(() => again.close())
  t.equal((await again.anonKey.listKeys()).length, 3, 'a restart on the same store makes no key twice')
})

t.test('platform keys as a script prints working commands', async (t) => {
  const run = runExampleScript(t, 'platform-keys.ts', { JWT_SECRET })
  const [, base] = await run.waitFor(/listening on (\S+); keys: default, ios, web/)
  const [, webKey] = await run.waitFor(/Bearer (anon_[0-9a-f]{64})" -H "Origin: https:\/\/app/)
  const [, token] = await run.waitFor(/export TOKEN=(\S+)/)
  t.equal((await fetch(`${base}/catalog`, { headers: { ...bearer(webKey), origin: 'https://app.example.com' } })).status, 200)
  t.equal((await fetch(`${base}/api/secrets/anon-keys/web/rotate`, { method: 'POST', headers: bearer(token) })).status, 200)
  t.equal(await run.stop(), 0)
})

t.test('multi-tenant: the project from the subdomain, admins only of the project in their token', async (t) => {
  const app = await buildMultiTenant(JWT_SECRET)
  t.teardown(() => app.close())
  const sign = createSigner({ key: JWT_SECRET })
  const admin = (project: string) => ({ authorization: `Bearer ${sign({ role: 'project_admin', project })}` })
  const host = (project: string) => ({ host: `${project}.${PLATFORM_DOMAIN}` })
  const acme = await app.inject({ url: '/api/metadata/anon-key', headers: { ...host('acme'), ...admin('acme') } })
  t.equal(acme.statusCode, 200, 'acme gets its key on its first admin request')
  const key = acme.json().anonKey
  t.same((await app.inject({ url: '/todos', headers: { ...host('acme'), ...bearer(key) } })).json(), { project: 'acme', todos: [] })
  t.equal((await app.inject({ url: '/todos', headers: { ...host('globex'), ...bearer(key) } })).statusCode, 401)
  t.equal((await app.inject({ url: '/todos', headers: { host: 'example.org', ...bearer(key) } })).statusCode, 401)
  t.equal((await app.inject({ url: '/todos', headers: { host: `Bad_Name.${PLATFORM_DOMAIN}`, ...bearer(key) } })).statusCode, 401)
  t.equal((await app.inject({ url: '/api/secrets/anon-keys', headers: { ...host('globex'), ...admin('acme') } })).statusCode, 403)
  t.equal((await app.inject({ url: '/api/secrets/anon-keys', headers: { host: 'example.org', ...admin('acme') } })).statusCode, 403)
})

/** GET with a Host header of our choosing (fetch refuses to set Host); resolves to the status. */
function statusWithHost (url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { headers }, (response) => {
      response.resume()
      resolve(response.statusCode as number)
    })
    request.on('error', reject)
    request.end()
  })
}

t.test('multi-tenant as a script prints working commands', async (t) => {
  const run = runExampleScript(t, 'multi-tenant.ts', { JWT_SECRET })
  const [, base] = await run.waitFor(/listening on (\S+); project acme provisioned/)
  const [, key] = await run.waitFor(/Bearer (anon_[0-9a-f]{64})/)
  const [, token] = await run.waitFor(/export TOKEN=(\S+)/)
  t.equal(await statusWithHost(`${base}/todos`, { host: `acme.${PLATFORM_DOMAIN}:${new URL(base).port}`, ...bearer(key) }), 200)
  t.equal(await statusWithHost(`${base}/api/secrets/anon-keys`, { host: `acme.${PLATFORM_DOMAIN}`, ...bearer(token) }), 200)
  t.equal(await statusWithHost(`${base}/api/secrets/anon-keys`, { host: `globex.${PLATFORM_DOMAIN}`, ...bearer(token) }), 403)
  t.equal(await run.stop(), 0)
})
