import swagger, { type FastifyDynamicSwaggerOptions } from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import anonKey from '../../lib/index.js'
import { adminToken, JWT_SECRET } from '../helpers/app.js'
import { freePort } from '../helpers/free-port.js'
import { chromiumOrSkip, useChromium } from '../helpers/chromium.js'
import { SWAGGER_README_MINIMAL, swaggerReadmeFull } from '../helpers/swagger-setups.js'

// Swagger UI in a real browser, set up the two ways @fastify/swagger's README shows: what a newcomer saw fail
// with "Failed to load API definition" before the plugin declared its own security scheme.
const UI_MS = 30_000

if (chromiumOrSkip(t)) {
  t.setTimeout(120_000)
  const browser = useChromium(t)

  const setups: Array<[string, (base: string) => FastifyDynamicSwaggerOptions]> = [
    ['just openapi.info', () => SWAGGER_README_MINIMAL],
    ['the full README example, with an apiKey scheme', swaggerReadmeFull]
  ]
  for (const [setup, options] of setups) {
    t.test(`Swagger UI (${setup}) loads the document, shows the admin scheme and runs GET anon-key with an admin token`, async (t) => {
      const base = await startHost(t, options)
      const page = await browser().newPage()
      t.teardown(() => page.close())
      const consoleErrors: string[] = []
      page.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(message.text()) })

      await page.goto(`${base}/docs`)
      await page.locator('.opblock').first().waitFor({ timeout: UI_MS })
      t.equal(await page.getByText('Failed to load API definition').count(), 0, 'no "Failed to load API definition"')
      t.equal(await page.locator('.opblock-summary-path[data-path="/api/secrets/anon-key/rotate"]').count(), 1, 'the rotate route is listed')

      await page.locator('button.authorize').first().click()
      const dialog = page.locator('.modal-ux')
      await dialog.waitFor({ timeout: UI_MS })
      const described = await dialog.innerText()
      t.match(described, /bearerAuth/, 'the dialog offers the admin scheme')
      t.match(described, /The admin JWT of fastify-anon-key, in the Authorization header after "Bearer "/, 'with its whole description')
      const adminScheme = dialog.locator('.auth-container').filter({ hasText: 'bearerAuth' })
      await adminScheme.locator('input').fill(adminToken())
      await adminScheme.locator('button.authorize').click()
      await dialog.locator('button.btn-done').first().click()

      const operation = page.locator('#operations-Admin-get_api_metadata_anon_key')
      await operation.locator('.opblock-summary').click()
      await operation.getByRole('button', { name: 'Try it out' }).click()
      await operation.getByRole('button', { name: 'Execute' }).click()
      const status = operation.locator('.live-responses-table tr.response .response-col_status')
      await status.waitFor({ timeout: UI_MS })
      t.equal((await status.innerText()).trim(), '200', 'the admin route answered 200 to the browser')
      t.match(await operation.locator('.live-responses-table .microlight').first().innerText(), /"anonKey": "anon_[0-9a-f]{64}"/)
      t.same(consoleErrors, [], 'no error in the browser console')
    })
  }
}

/** A host app: Swagger as given, Swagger UI at /docs, the plugin, listening on a free loopback port. */
async function startHost (t: Test, options: (base: string) => FastifyDynamicSwaggerOptions): Promise<string> {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(swagger, options(base))
  await app.register(swaggerUi, { routePrefix: '/docs' })
  await app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  await app.listen({ port, host: '127.0.0.1' })
  return base
}
