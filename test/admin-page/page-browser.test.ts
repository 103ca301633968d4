import Fastify, { type FastifyInstance } from 'fastify'
import { join } from 'node:path'
import type { BrowserContext, Locator, Page } from 'playwright-core'
import t, { type Test } from 'tap'
import anonKey, { type FastifyAnonKeyOptions } from '../../lib/index.js'
import { fingerprintOf } from '../../lib/stores/index.js'
import { anonKeyAdminPage, type AnonKeyAdminPageOptions } from '../../lib/admin-page/index.js'
import { isFocused, PAGE_WEIGHT_LIMIT, SCREENSHOTS, tabTo, watchPage, type PageWatch } from '../helpers/admin-page.js'
import { adminToken, JWT_SECRET, useKey } from '../helpers/app.js'
import { CLOCK_START, fakeDateNow } from '../helpers/clock.js'
import { flush } from '../helpers/usage.js'
import { chromiumOrSkip, useChromium } from '../helpers/chromium.js'
import { freePort } from '../helpers/free-port.js'
import { isTenantAdmin, tenantFromHeader } from '../helpers/tenants.js'

// The admin page in a real browser, against a real app on a loopback port, driven the way people and scripts
// find its controls: by their role and accessible name.
const UI_MS = 15_000
const HOUR_MS = 3_600_000

interface Host { app: FastifyInstance, base: string }

async function startHost (t: Test, plugin: FastifyAnonKeyOptions = {}, page: AnonKeyAdminPageOptions = {}): Promise<Host> {
  const port = await freePort()
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(anonKey, { jwt: { secret: JWT_SECRET }, ...plugin })
  await app.register(anonKeyAdminPage, page)
  app.get('/data', { onRequest: app.verifyAnonKey }, async () => ({ ok: true }))
  await app.listen({ port, host: '127.0.0.1' })
  return { app, base: `http://127.0.0.1:${port}` }
}

/** Whether this server records usage over time (the page then draws its chart). */
const hasUsageRoute = (app: FastifyInstance): boolean => app.hasRoute({ method: 'GET', url: '/api/secrets/anon-keys/:name/usage' })

/** With ADMIN_PAGE_SCREENSHOTS=1, saves what `part` shows now (the viewport by default) for docs/admin-page.md. */
async function screenshot (page: Page, name: string, part?: Locator): Promise<void> {
  if (SCREENSHOTS === null) return
  const path = join(SCREENSHOTS, `admin-page-${name}.png`)
  await (part === undefined ? page.screenshot({ path, scale: 'css' }) : part.screenshot({ path, scale: 'css' }))
}

/** The page is clean: no script error, no CSP report, no request beyond the app, and only the failures expected. */
function checkClean (t: Test, watch: PageWatch, failed: string[]): void {
  t.same(watch.pageErrors, [], 'no uncaught error in the page')
  t.same(watch.consoleErrors, [], 'no console error (a CSP violation would be one)')
  t.same(watch.elsewhere, [], 'no request outside the app')
  t.same([...watch.failed].sort(), [...failed].sort(), 'the only failed responses are those the test caused')
  t.equal(watch.failedResponseNotes, watch.failed.length, 'the console notes only those failed responses')
}

if (chromiumOrSkip(t)) {
  t.setTimeout(240_000)
  const browser = useChromium(t)

  async function openPage (t: Test, base: string): Promise<{ page: Page, context: BrowserContext, watch: PageWatch }> {
    const context = await browser().newContext({ viewport: { width: 900, height: 720 } })
    t.teardown(() => context.close())
    const page = await context.newPage()
    page.setDefaultTimeout(UI_MS)
    const watch = watchPage(page, base)
    await page.goto(`${base}/anon-keys`)
    return { page, context, watch }
  }

  t.test('an admin signs in after a bad token, sees the keys, rotates with a chosen grace, revokes, creates, edits, copies and deletes', async (t) => {
    const { app, base } = await startHost(t)
    const { page, context, watch } = await openPage(t, base)
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base })
    const expectedFailures: string[] = []
    const usage = hasUsageRoute(app)

    t.equal(new URL(page.url()).pathname, '/anon-keys/', 'the bare prefix led to the page')
    const token = page.getByLabel('Admin token')
    t.ok(await isFocused(token), 'the token field has the focus')

    // A bad token: the page says what went wrong and asks again.
    await token.fill('not-a-token')
    await token.press('Enter')
    expectedFailures.push('401 GET /api/secrets/anon-keys')
    const alert = page.getByRole('alert').filter({ hasText: 'refused' })
    await alert.waitFor()
    t.match(await alert.innerText(), /The admin token was refused[^]*The admin token is invalid\.[^]*AUTH_INVALID_CREDENTIALS, 401/)
    t.match(await alert.innerText(), /Send a valid credential/, 'with the error\'s next actions')
    t.equal(await token.inputValue(), '', 'the refused token is not kept in the field')
    t.ok(await isFocused(token), 'and the field asks again')
    t.equal(await page.evaluate('sessionStorage.length'), 0, 'nor in sessionStorage')
    await screenshot(page, 'sign-in', page.locator('main'))

    // A good one.
    await token.fill(adminToken())
    await token.press('Enter')
    await page.getByRole('status').getByText('Signed in.').waitFor()
    const defaultKey = page.getByRole('region', { name: 'default' })
    t.equal(await page.getByRole('alert').filter({ hasText: 'refused' }).count(), 0, 'the error is gone')
    t.same(await page.evaluate('[Object.keys(sessionStorage), localStorage.length, document.cookie]'),
      [['fastify-anon-key.admin-token'], 0, ''], 'the token is kept in sessionStorage only')
    const firstKey = await app.anonKey.get() as string
    t.equal(await defaultKey.getByLabel('Current key').inputValue(), firstKey, 'the current key is shown')
    t.match(await defaultKey.innerText(), new RegExp(`Fingerprint\\s+${fingerprintOf(firstKey)}`))
    t.match(await defaultKey.innerText(), /Allowed origins\s+Any origin/)
    const figure = defaultKey.getByRole('figure', { name: 'Requests per hour, last 7 days' })
    if (usage) {
      t.ok(await figure.getByRole('img').isVisible(), 'the usage chart is drawn')
    } else {
      t.ok(await figure.getByText('No usage data').isVisible(), 'without usage figures the page says so')
      expectedFailures.push('404 GET /api/secrets/anon-keys/default/usage')
    }

    // Rotate with a grace of 48 hours: the dialog says what happens to shipped apps, the server keeps 48 h.
    await defaultKey.getByRole('button', { name: 'Rotate' }).click()
    const rotate = page.getByRole('dialog', { name: 'Rotate default' })
    await rotate.getByLabel('Grace (hours)').fill('48')
    t.match(await rotate.innerText(),
      /Apps that ship the current key keep working for 48 hours, until .*; after that they are refused \(401 ANON_KEY_EXPIRED\) until they ship the new key/)
    await rotate.getByLabel('Grace (hours)').fill('0')
    t.match(await rotate.innerText(), /the current key stops working at once: every app that ships it is refused/)
    await rotate.getByLabel('At the new key\'s first use').check()
    await rotate.getByLabel('Grace (hours)').fill('48')
    t.match(await rotate.innerText(), /keep working until 48 hours after the new key is first used/)
    await rotate.getByLabel('At rotation').check()
    await screenshot(page, 'rotate', rotate)
    await rotate.getByRole('button', { name: 'Rotate' }).click()
    await page.getByRole('status').getByText('Rotated default').waitFor()
    t.notOk(await rotate.isVisible(), 'the dialog closed')
    const [rotated] = await app.anonKey.listPrevious()
    t.equal(rotated.fingerprint, fingerprintOf(firstKey), 'the old key is a previous key on the server')
    t.equal(Date.parse(rotated.expiresAt) - Date.parse(rotated.rotatedAt), 48 * HOUR_MS, 'for the 48 hours chosen')
    const secondKey = await app.anonKey.get() as string
    t.equal(await defaultKey.getByLabel('Current key').inputValue(), secondKey, 'the page shows the new key')
    if (!usage) expectedFailures.push('404 GET /api/secrets/anon-keys/default/usage')
    const firstRow = defaultKey.getByRole('row').filter({ hasText: rotated.fingerprint })
    t.match(await firstRow.innerText(), /(1 d 23 h|2 d 0 h)\s+until/, 'its grace left')
    t.ok(await isFocused(defaultKey.getByRole('button', { name: 'Rotate' })), 'the focus went back to Rotate')

    // A second rotation, then revoke that one previous key.
    await defaultKey.getByRole('button', { name: 'Rotate' }).click()
    await rotate.getByLabel('Grace (hours)').fill('2')
    await rotate.getByRole('button', { name: 'Rotate' }).click()
    await page.getByRole('status').getByText('Rotated default').waitFor()
    if (!usage) expectedFailures.push('404 GET /api/secrets/anon-keys/default/usage')
    await defaultKey.getByRole('row').filter({ hasText: fingerprintOf(secondKey) }).getByRole('button', { name: 'Revoke' }).click()
    const confirm = page.getByRole('dialog', { name: `Revoke ${fingerprintOf(secondKey)}?` })
    t.match(await confirm.innerText(), /stops working now, before the end of its grace: apps that still ship it are refused \(401 ANON_KEY_REVOKED\)/)
    await confirm.getByRole('button', { name: 'Revoke' }).click()
    await page.getByRole('status').getByText(`Revoked the previous key ${fingerprintOf(secondKey)}`).waitFor()
    t.same((await app.anonKey.listPrevious()).map((previous) => previous.fingerprint), [fingerprintOf(firstKey)], 'the server revoked that one')
    if (!usage) expectedFailures.push('404 GET /api/secrets/anon-keys/default/usage')

    // Revoke all.
    await defaultKey.getByRole('button', { name: 'Revoke all' }).click()
    const revokeAll = page.getByRole('dialog', { name: 'Revoke every previous key of default?' })
    t.match(await revokeAll.innerText(), /1 previous key stops working now[^]*The current key keeps working/)
    await revokeAll.getByRole('button', { name: 'Revoke all' }).click()
    await page.getByRole('status').getByText('Revoked 1 previous key of default').waitFor()
    t.ok(await defaultKey.getByText('None. After a rotation').isVisible(), 'the page lists none')
    t.same(await app.anonKey.listPrevious(), [], 'the server holds no previous key')
    if (!usage) expectedFailures.push('404 GET /api/secrets/anon-keys/default/usage')

    // Create a key restricted to an origin.
    await page.getByRole('button', { name: 'New key' }).click()
    const create = page.getByRole('dialog', { name: 'New key' })
    await create.getByLabel('Name').fill('web')
    await create.getByLabel('Allowed origins').fill('https://app.example.com')
    await create.getByRole('button', { name: 'Create' }).click()
    await page.getByRole('status').getByText('Created the key web').waitFor()
    const web = page.getByRole('region', { name: 'web' })
    const created = await app.anonKey.getKey('web')
    t.same(created.allowedOrigins, ['https://app.example.com'], 'the server holds the restriction')
    t.equal(await web.getByLabel('Current key').inputValue(), created.anonKey)
    t.ok(await isFocused(web.getByRole('heading', { name: 'web' })), 'the focus is on the new key')
    if (!usage) expectedFailures.push('404 GET /api/secrets/anon-keys/default/usage', '404 GET /api/secrets/anon-keys/web/usage')

    // The same name again: the server's 409 shows in the dialog, with its next actions.
    await page.getByRole('button', { name: 'New key' }).click()
    await create.getByLabel('Name').fill('web')
    await create.getByRole('button', { name: 'Create' }).click()
    expectedFailures.push('409 POST /api/secrets/anon-keys')
    const conflict = create.getByRole('alert')
    await conflict.getByText('CONFLICT').waitFor()
    t.match(await conflict.innerText(), /The key was not created\.[^]*web[^]*\(CONFLICT, 409\)/)
    await create.getByRole('button', { name: 'Cancel' }).click()

    // Edit it: a description and a second origin.
    await web.getByRole('button', { name: 'Edit' }).click()
    const edit = page.getByRole('dialog', { name: 'Edit web' })
    t.equal(await edit.getByLabel('Allowed origins').inputValue(), 'https://app.example.com', 'the form holds the key as it is')
    await edit.getByLabel('Description').fill('Web app')
    await edit.getByLabel('Allowed origins').fill('https://app.example.com\nhttps://*.example.org')
    await edit.getByRole('button', { name: 'Save' }).click()
    await page.getByRole('status').getByText('Saved web.').waitFor()
    const edited = await app.anonKey.getKey('web')
    t.same([edited.description, edited.allowedOrigins], ['Web app', ['https://app.example.com', 'https://*.example.org']], 'the server holds the change')
    t.match(await web.innerText(), /Allowed origins\s+https:\/\/app\.example\.com, https:\/\/\*\.example\.org/)
    if (!usage) expectedFailures.push('404 GET /api/secrets/anon-keys/default/usage', '404 GET /api/secrets/anon-keys/web/usage')
    await app.anonKey.rotate({ name: 'web', gracePeriodHours: 24 })
    await page.getByRole('button', { name: 'Refresh' }).click()
    await page.getByRole('status').getByText('Refreshed at').waitFor()
    t.equal(await web.getByRole('row').count(), 2, 'the rotation made elsewhere shows after Refresh')
    if (!usage) expectedFailures.push('404 GET /api/secrets/anon-keys/default/usage', '404 GET /api/secrets/anon-keys/web/usage')

    // Copy a key.
    await web.getByRole('button', { name: 'Copy key' }).click()
    await page.getByRole('status').getByText('Copied the current key of web.').waitFor()
    t.equal(await page.evaluate('navigator.clipboard.readText()'), (await app.anonKey.getKey('web')).anonKey, 'the clipboard holds the key')

    // Delete it: the confirmation says its keys stop working.
    await web.getByRole('button', { name: 'Delete' }).click()
    const remove = page.getByRole('dialog', { name: 'Delete web?' })
    t.match(await remove.innerText(),
      /Its current key and its 1 previous key stop working at once: every app that ships one of them is refused \(401 ANON_KEY_REVOKED\)/)
    await remove.getByRole('button', { name: 'Delete' }).click()
    await page.getByRole('status').getByText('Deleted web.').waitFor()
    t.equal(await web.count(), 0, 'the page lists it no more')
    t.same((await app.anonKey.listKeys()).map((key) => key.name), ['default'], 'the server deleted it')
    if (!usage) expectedFailures.push('404 GET /api/secrets/anon-keys/default/usage')

    // Sign out: the token leaves the tab.
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByLabel('Admin token').waitFor()
    t.equal(await page.evaluate('sessionStorage.getItem("fastify-anon-key.admin-token")'), null)

    t.ok(watch.pageBytes > 0 && watch.pageBytes < PAGE_WEIGHT_LIMIT, `the page loaded ${watch.pageBytes} bytes of its own, under ${PAGE_WEIGHT_LIMIT}`)
    checkClean(t, watch, expectedFailures)
  })

  t.test('a token revoked while the page is open sends the admin back to sign in, saying why, and changes nothing', async (t) => {
    const revoked = new Set<string>()
    const { app, base } = await startHost(t, { jwt: { secret: JWT_SECRET, trusted: (_request, token) => !revoked.has(token.jti) } })
    const { page, watch } = await openPage(t, base)
    await page.getByLabel('Admin token').fill(adminToken({ jti: 'admin-who-leaves' }))
    await page.getByLabel('Admin token').press('Enter')
    await page.getByRole('status').getByText('Signed in.').waitFor()
    const defaultKey = page.getByRole('region', { name: 'default' })
    await defaultKey.getByRole('button', { name: 'Rotate' }).click()
    revoked.add('admin-who-leaves')
    await page.getByRole('dialog', { name: 'Rotate default' }).getByRole('button', { name: 'Rotate' }).click()
    const alert = page.getByRole('alert').filter({ hasText: 'refused' })
    await alert.waitFor()
    t.match(await alert.innerText(), /The admin token was refused[^]*The admin token has been revoked\./)
    t.notOk(await page.getByRole('dialog').isVisible(), 'the dialog closed')
    t.ok(await isFocused(page.getByLabel('Admin token')), 'the token field asks again')
    t.equal(await page.evaluate('sessionStorage.getItem("fastify-anon-key.admin-token")'), null, 'the revoked token is dropped')
    t.same(await app.anonKey.listPrevious(), [], 'nothing was rotated')
    const usage = hasUsageRoute(app) ? [] : ['404 GET /api/secrets/anon-keys/default/usage']
    checkClean(t, watch, [...usage, '401 POST /api/secrets/anon-keys/default/rotate'])
  })

  t.test('keyboard only: sign in with Enter, rotate with a grace typed in, revoke all, and Escape out of a dialog', async (t) => {
    const { app, base } = await startHost(t)
    const { page, watch } = await openPage(t, base)
    const keyboard = page.keyboard

    await tabTo(page, page.getByLabel('Admin token'))
    await keyboard.type(adminToken())
    await keyboard.press('Enter')
    await page.getByRole('status').getByText('Signed in.').waitFor()
    const defaultKey = page.getByRole('region', { name: 'default' })
    t.ok(await isFocused(page.getByRole('heading', { name: 'Keys', exact: true })), 'signing in moves the focus to the keys')

    await tabTo(page, defaultKey.getByRole('button', { name: 'Rotate' }))
    await keyboard.press('Enter')
    const rotate = page.getByRole('dialog', { name: 'Rotate default' })
    await rotate.waitFor()
    t.ok(await isFocused(rotate.getByLabel('Grace (hours)')), 'the dialog opens on its Grace field')
    await keyboard.press('Control+A')
    await keyboard.type('12')
    await tabTo(page, rotate.getByRole('button', { name: 'Rotate' }))
    await keyboard.press('Enter')
    await page.getByRole('status').getByText('Rotated default').waitFor()
    const [previous] = await app.anonKey.listPrevious()
    t.equal(Date.parse(previous.expiresAt) - Date.parse(previous.rotatedAt), 12 * HOUR_MS, 'the grace typed in reached the server')
    t.ok(await isFocused(defaultKey.getByRole('button', { name: 'Rotate' })), 'the focus is back on Rotate')

    await tabTo(page, defaultKey.getByRole('button', { name: 'Revoke all' }))
    await keyboard.press('Enter')
    const confirm = page.getByRole('dialog', { name: 'Revoke every previous key of default?' })
    await confirm.waitFor()
    t.ok(await isFocused(confirm.getByRole('button', { name: 'Cancel' })), 'a destructive dialog opens on Cancel')
    await tabTo(page, confirm.getByRole('button', { name: 'Revoke all' }))
    await keyboard.press('Enter')
    await page.getByRole('status').getByText('Revoked 1 previous key').waitFor()
    t.same(await app.anonKey.listPrevious(), [], 'revoked from the keyboard')

    await tabTo(page, page.getByRole('button', { name: 'New key' }), 80)
    await keyboard.press('Enter')
    const create = page.getByRole('dialog', { name: 'New key' })
    await create.waitFor()
    t.ok(await isFocused(create.getByLabel('Name')), 'New key opens on its Name field')
    await keyboard.press('Escape')
    await create.waitFor({ state: 'hidden' })
    t.ok(await isFocused(page.getByRole('button', { name: 'New key' })), 'Escape closes it and gives the focus back')
    t.same((await app.anonKey.listKeys()).map((key) => key.name), ['default'], 'nothing was created')
    const usage = hasUsageRoute(app) ? [] : Array(3).fill('404 GET /api/secrets/anon-keys/default/usage')
    checkClean(t, watch, usage)
  })

  t.test('tenant mode: the tenant goes in the host\'s header, and a token for another tenant is refused with a 403 shown', async (t) => {
    const { app, base } = await startHost(t, { tenant: tenantFromHeader, isAdmin: isTenantAdmin }, { tenantHeader: 'x-tenant' })
    const { page, watch } = await openPage(t, base)
    const tenant = page.getByLabel('Tenant')
    t.ok(await isFocused(tenant), 'the page asks for the tenant first')

    await tenant.fill('acme')
    await page.getByLabel('Admin token').fill(adminToken({ tenant: 'beta' }))
    await page.getByLabel('Admin token').press('Enter')
    const alert = page.getByRole('alert').filter({ hasText: 'may not manage' })
    await alert.waitFor()
    t.match(await alert.innerText(), /This token may not manage these keys[^]*This route is for project admins only\.[^]*FORBIDDEN, 403/)
    t.equal(await tenant.inputValue(), 'acme', 'the tenant stays filled in')

    await page.getByLabel('Admin token').fill(adminToken({ tenant: 'acme' }))
    await page.getByLabel('Admin token').press('Enter')
    await page.getByRole('status').getByText('Signed in.').waitFor()
    const defaultKey = page.getByRole('region', { name: 'default' })
    t.match(await page.getByRole('banner').innerText(), /Signed in, tenant acme/)
    const acme = app.anonKey.forTenant('acme')
    t.equal(await defaultKey.getByLabel('Current key').inputValue(), await acme.get(), 'acme\'s key is shown')

    await defaultKey.getByRole('button', { name: 'Rotate' }).click()
    const rotate = page.getByRole('dialog', { name: 'Rotate default' })
    await rotate.getByLabel('Grace (hours)').fill('6')
    await rotate.getByRole('button', { name: 'Rotate' }).click()
    await page.getByRole('status').getByText('Rotated default').waitFor()
    const [previous] = await acme.listPrevious()
    t.equal(Date.parse(previous.expiresAt) - Date.parse(previous.rotatedAt), 6 * HOUR_MS, 'acme\'s key was rotated')
    t.equal(await app.anonKey.forTenant('beta').get(), null, 'no other tenant was touched')
    const usage = hasUsageRoute(app) ? [] : Array(2).fill('404 GET /api/secrets/anon-keys/default/usage')
    checkClean(t, watch, ['403 GET /api/secrets/anon-keys', ...usage])
  })
  t.test('the chart shows the usage route\'s last 7 days: the current key, the previous keys and refused requests', async (t) => {
    // Traffic over three days, on the app's clock: key A, then B after a rotation, then C after another. A's grace
    // ended (its late requests are refused); B is a previous key still valid; C is current.
    const now = CLOCK_START + 10 * 24 * HOUR_MS + 30 * 60_000
    const clock = fakeDateNow(now - 100 * HOUR_MS)
    t.teardown(() => clock.restore())
    const { app, base } = await startHost(t)
    const at = (hoursAgo: number): void => clock.set(now - hoursAgo * HOUR_MS)
    // The plugin puts counts in the hour of the instant it takes them: taken here, at the clock's instant.
    const use = async (key: string, times: number): Promise<void> => {
      for (let i = 0; i < times; i++) await useKey(app, key)
      await flush(app)
    }
    const keyA = await app.anonKey.get() as string
    at(90); await use(keyA, 4)
    at(60); await app.anonKey.rotate({ gracePeriodHours: 24 })
    const keyB = await app.anonKey.get() as string
    await use(keyB, 5)
    at(55); await use(keyA, 3)
    at(50); await use(keyB, 10)
    at(30); await use(keyA, 2)
    at(20); await app.anonKey.rotate({ gracePeriodHours: 72 })
    const keyC = await app.anonKey.get() as string
    await use(keyC, 6)
    at(10); await use(keyC, 8)
    at(5); await use(keyB, 2)
    at(0); await use(keyC, 4)

    const context = await browser().newContext({ viewport: { width: 900, height: 720 } })
    t.teardown(() => context.close())
    const page = await context.newPage()
    page.setDefaultTimeout(UI_MS)
    await page.clock.setFixedTime(now)
    const watch = watchPage(page, base)
    await page.goto(`${base}/anon-keys/`)
    await page.getByLabel('Admin token').fill(adminToken())
    await page.getByLabel('Admin token').press('Enter')
    await page.getByRole('status').getByText('Signed in.').waitFor()
    const figure = page.getByRole('region', { name: 'default' }).getByRole('figure', { name: 'Requests per hour, last 7 days' })
    if (!hasUsageRoute(app)) {
      t.ok(await figure.getByText('No usage data: this server does not record usage over time.').isVisible(), 'a server without usage figures gets no chart')
      t.equal(await figure.getByRole('img').count(), 0)
      checkClean(t, watch, ['404 GET /api/secrets/anon-keys/default/usage'])
      return
    }
    const chart = figure.getByRole('img')
    const summary = 'Last 7 days: 18 requests with the current key, 17 with previous keys, 2 refused.'
    t.equal(await chart.getAttribute('aria-labelledby'), 'usage-caption-default usage-summary-default', 'the chart is named by its caption and its summary')
    t.equal(await figure.getByText(summary).count(), 1, 'the summary counts C\'s requests as current, B\'s as previous, and A\'s late ones as refused')
    t.equal(await chart.locator('polyline.current').count(), 1)
    t.equal(await chart.locator('polyline.previous').count(), 1)
    t.equal(await chart.locator('rect.refused').count(), 1, 'one hour with refused requests')
    const points = (await chart.locator('polyline.current').getAttribute('points'))?.split(' ') ?? []
    t.equal(points.length, 168, 'one point an hour for 7 days')
    const heights = points.map((point) => Number(point.split(',')[1]))
    const base0 = heights[0]
    t.same(heights.map((y, hour) => [hour, y]).filter(([, y]) => y !== base0).map(([hour]) => hour), [147, 157, 167],
      'the current key\'s requests sit 20, 10 and 0 hours back')
    t.ok(heights[157] < heights[147] && heights[147] < heights[167], 'and the busiest of those hours is drawn highest')
    t.match(await page.getByRole('region', { name: 'default' }).getByRole('row').filter({ hasText: fingerprintOf(keyB) }).innerText(),
      /5 h ago\s+Not yet/, 'B was last used 5 hours ago, so it is not safe to revoke')
    await screenshot(page, 'chart', page.getByRole('region', { name: 'default' }))
    checkClean(t, watch, [])
  })
  t.test('where the server keeps apps, attestation and rate limits, the key dialog creates and edits them too', async (t) => {
    const { app, base } = await startHost(t)
    const { page, watch } = await openPage(t, base)
    await page.getByLabel('Admin token').fill(adminToken())
    await page.getByLabel('Admin token').press('Enter')
    await page.getByRole('status').getByText('Signed in.').waitFor()
    const usage = hasUsageRoute(app) ? [] : ['404 GET /api/secrets/anon-keys/default/usage']
    await page.getByRole('button', { name: 'New key' }).click()
    const create = page.getByRole('dialog', { name: 'New key' })
    if (!('rateLimit' in await app.anonKey.getKey('default'))) {
      for (const field of ['Android apps', 'iOS bundle IDs', 'Require attestation', 'Requests', 'Per seconds']) {
        t.notOk(await create.getByLabel(field).isVisible(), `no ${field} field where the server has no such setting`)
      }
      checkClean(t, watch, usage)
      return
    }
    const certSha1 = 'da39a3ee5e6b4b0d3255bfef95601890afd80709'
    await create.getByLabel('Name').fill('android')
    await create.getByLabel('Android apps').fill(`com.example.app ${certSha1.toUpperCase()}`)
    await create.getByLabel('Requests').fill('100')
    await create.getByLabel('Per seconds').fill('60')
    await create.getByRole('button', { name: 'Create' }).click()
    await page.getByRole('status').getByText('Created the key android').waitFor()
    const created = await app.anonKey.getKey('android') as any
    t.same([created.allowedApps, created.requireAttestation, created.rateLimit],
      [{ android: [{ packageName: 'com.example.app', certSha1 }] }, false, { max: 100, timeWindowMs: 60_000 }], 'the server holds them')
    const android = page.getByRole('region', { name: 'android' })
    t.match(await android.innerText(), /Allowed apps\s+Android com\.example\.app[^]*Rate limit\s+100 requests per 60 s/)

    await android.getByRole('button', { name: 'Edit' }).click()
    const edit = page.getByRole('dialog', { name: 'Edit android' })
    t.equal(await edit.getByLabel('Requests').inputValue(), '100', 'the form holds the key as it is')
    await edit.getByLabel('Android apps').fill('')
    await edit.getByLabel('iOS bundle IDs').fill('com.example.ios')
    await edit.getByLabel('Require attestation').check()
    await edit.getByLabel('Requests').fill('')
    await edit.getByRole('button', { name: 'Save' }).click()
    const incomplete = edit.getByRole('alert')
    await incomplete.getByText('A rate limit needs both').waitFor()
    t.ok(await edit.isVisible(), 'half a rate limit is caught before any call, and the dialog stays open')
    await edit.getByLabel('Per seconds').fill('')
    // This host verifies no attestation tokens: the server refuses, and says so in the dialog.
    await edit.getByRole('button', { name: 'Save' }).click()
    // The page's own refusal above reads "android was not changed." and "(INVALID_INPUT, 400)" too: wait for the
    // server's, which names the setting it refused.
    await incomplete.getByText(/^requireAttestation needs/).waitFor()
    t.match(await incomplete.innerText(), /android was not changed\.[^]*requireAttestation[^]*\(INVALID_INPUT, 400\)/)
    t.equal((await app.anonKey.getKey('android') as any).requireAttestation, false, 'nothing changed')
    await edit.getByLabel('Require attestation').uncheck()
    await edit.getByRole('button', { name: 'Save' }).click()
    await page.getByRole('status').getByText('Saved android.').waitFor()
    const edited = await app.anonKey.getKey('android') as any
    t.same([edited.allowedApps, edited.requireAttestation, edited.rateLimit], [{ ios: ['com.example.ios'] }, false, null], 'the server holds the change')
    const missing = (name: string, times: number): string[] => hasUsageRoute(app) ? [] : Array(times).fill(`404 GET /api/secrets/anon-keys/${name}/usage`)
    checkClean(t, watch, ['400 PATCH /api/secrets/anon-keys/android', ...missing('default', 3), ...missing('android', 2)])
  })
  t.test('the browser enforces the page\'s policy: an injected inline script or HTML string does not run', async (t) => {
    const { base } = await startHost(t)
    const { page, watch } = await openPage(t, base)
    await page.getByLabel('Admin token').waitFor()
    // What an injection through a page bug would try: an HTML string, then an inline script element.
    const outcome = await page.evaluate(`(() => {
      const results = []
      try { document.body.insertAdjacentHTML('beforeend', '<img src=x onerror="window.injected = true">'); results.push('html written') } catch (error) { results.push(error.name) }
      const script = document.createElement('script')
      try { script.text = 'window.injected = true'; results.push('script text set') } catch (error) { results.push(error.name) }
      document.head.append(script)
      return new Promise((resolve) => setTimeout(() => resolve([...results, window.injected === true ? 'ran' : 'did not run']), 200))
    })()`)
    t.same(outcome, ['TypeError', 'TypeError', 'did not run'], 'Trusted Types refuse both sinks, and nothing runs')
    t.same(watch.consoleErrors, [
      "This document requires 'TrustedHTML' assignment. The action has been blocked.",
      "This document requires 'TrustedScript' assignment. The action has been blocked."
    ], 'the browser reports each refusal, as it would any CSP violation the other tests look for')
    t.same(watch.pageErrors, [])
  })
}
