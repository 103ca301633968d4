// The admin page of fastify-anon-key. It holds nothing of its own: it signs in with an admin token kept in this
// tab's sessionStorage, and every figure and change goes through the plugin's admin routes. Elements are built
// one by one (never from HTML strings): the page's Content-Security-Policy requires Trusted Types.

const root = document.documentElement
const config = {
  apiBase: root.dataset.apiBase ?? '',
  tenantHeader: root.dataset.tenantHeader ?? '',
  defaultGraceHours: Number(root.dataset.defaultGraceHours),
  maxGraceHours: Number(root.dataset.maxGraceHours)
}
const TOKEN_ITEM = 'fastify-anon-key.admin-token'
const TENANT_ITEM = 'fastify-anon-key.tenant'
const HOUR_MS = 3_600_000
const CHART_HOURS = 7 * 24

const byId = (id) => document.getElementById(id)
const state = { keys: [], usage: new Map() }

// ---------------------------------------------------------------- elements

function el (tag, attributes = {}, children = []) {
  const element = document.createElement(tag)
  setAttributes(element, attributes)
  element.append(...children.filter((child) => child !== null && child !== undefined && child !== false))
  return element
}

function svg (tag, attributes = {}, children = []) {
  const element = document.createElementNS('http://www.w3.org/2000/svg', tag)
  setAttributes(element, attributes)
  element.append(...children)
  return element
}

function setAttributes (element, attributes) {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value)
    else element.setAttribute(name, value === true ? '' : String(value))
  }
}

function button (label, onclick, attributes = {}) {
  return el('button', { type: 'button', onclick, ...attributes }, [label])
}

// ---------------------------------------------------------------- wording

const numberFormat = new Intl.NumberFormat()
const dateFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZoneName: 'short' })
const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' })
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric' })

const count = (n) => numberFormat.format(n)
const when = (iso) => dateFormat.format(new Date(iso))
const plural = (n, one, many) => `${count(n)} ${n === 1 ? one : many}`

/** "6 d 23 h", "2 h 5 min", "4 min": what is left until an instant. */
function timeLeft (iso, now = Date.now()) {
  const minutes = Math.floor((Date.parse(iso) - now) / 60_000)
  if (minutes < 1) return 'less than a minute'
  const days = Math.floor(minutes / 1440)
  const hours = Math.floor((minutes % 1440) / 60)
  if (days > 0) return `${days} d ${hours} h`
  if (hours > 0) return `${hours} h ${minutes % 60} min`
  return `${minutes} min`
}

function ago (iso, now = Date.now()) {
  const minutes = Math.floor((now - Date.parse(iso)) / 60_000)
  if (minutes < 1) return 'just now'
  if (minutes < 60) return `${minutes} min ago`
  if (minutes < 2880) return `${Math.floor(minutes / 60)} h ago`
  return `${Math.floor(minutes / 1440)} d ago`
}

// ---------------------------------------------------------------- the admin routes

class ApiError extends Error {
  constructor (status, body) {
    const known = body !== null && typeof body === 'object' && typeof body.message === 'string'
    super(known ? body.message : `The server answered ${status}.`)
    this.status = status
    this.code = known && typeof body.error === 'string' ? body.error : null
    this.nextActions = known && typeof body.nextActions === 'string' ? body.nextActions : null
  }
}

async function api (method, path, body) {
  const headers = { authorization: `Bearer ${sessionStorage.getItem(TOKEN_ITEM) ?? ''}` }
  const tenant = sessionStorage.getItem(TENANT_ITEM)
  if (config.tenantHeader !== '' && tenant) headers[config.tenantHeader] = tenant
  const init = { method, headers, cache: 'no-store' }
  if (body !== undefined) {
    headers['content-type'] = 'application/json'
    init.body = JSON.stringify(body)
  }
  let response
  try {
    response = await fetch(config.apiBase + path, init)
  } catch {
    throw new ApiError(0, { error: 'NETWORK_ERROR', message: 'The server did not answer.', nextActions: 'Check that it is running and that this browser can reach it, then try again.' })
  }
  const text = await response.text()
  let data = null
  try { data = text === '' ? null : JSON.parse(text) } catch { data = null }
  if (!response.ok) throw new ApiError(response.status, data)
  return data
}

const keyPath = (name) => `secrets/anon-keys/${encodeURIComponent(name)}`

// ---------------------------------------------------------------- messages

function say (text) {
  byId('status').textContent = text
}

function showError (region, title, error) {
  const code = error.code === null ? `${error.status}` : `${error.code}, ${error.status}`
  region.replaceChildren(
    el('strong', {}, [title]),
    el('p', {}, [`${error.message} (${code})`]),
    error.nextActions === null ? null : el('p', {}, [error.nextActions])
  )
  region.hidden = false
}

function clearError (region) {
  region.replaceChildren()
  region.hidden = true
}

const isAuthFailure = (error) => error.status === 401 || error.status === 403

/** A call failed: a refused token sends the user back to sign in; any other error is shown where it happened. */
function failed (error, title, region = byId('alert')) {
  if (!(error instanceof ApiError)) throw error
  if (isAuthFailure(error)) return signInAgain(error)
  showError(region, title, error)
}

// ---------------------------------------------------------------- signing in

function showSignIn () {
  for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close()
  byId('keys').hidden = true
  byId('session').hidden = true
  byId('sign-in').hidden = false
  byId('tenant').value = sessionStorage.getItem(TENANT_ITEM) ?? ''
  const first = config.tenantHeader !== '' && byId('tenant').value === '' ? byId('tenant') : byId('token')
  first.focus()
}

function signInAgain (error) {
  sessionStorage.removeItem(TOKEN_ITEM)
  state.keys = []
  byId('key-list').replaceChildren()
  say('')
  const title = error.status === 401 ? 'The admin token was refused. Paste a valid one to sign in again.' : 'This token may not manage these keys. Sign in with an admin token for them.'
  showError(byId('alert'), title, error)
  showSignIn()
}

async function signIn (event) {
  event.preventDefault()
  const token = byId('token').value.trim()
  const tenant = byId('tenant').value.trim()
  sessionStorage.setItem(TOKEN_ITEM, token)
  if (config.tenantHeader !== '') sessionStorage.setItem(TENANT_ITEM, tenant)
  byId('token').value = ''
  await loadKeys({ focus: byId('keys-heading'), announce: 'Signed in.' })
}

function signOut () {
  sessionStorage.removeItem(TOKEN_ITEM)
  state.keys = []
  byId('key-list').replaceChildren()
  clearError(byId('alert'))
  say('Signed out. The token is no longer kept in this tab.')
  showSignIn()
}

// ---------------------------------------------------------------- the keys

/** Loads the keys, then each one's usage; `announce` is said once everything is shown. */
async function loadKeys ({ focus, announce } = {}) {
  let data
  try {
    data = await api('GET', 'secrets/anon-keys')
  } catch (error) {
    return failed(error, 'The keys could not be loaded.')
  }
  state.keys = data.anonKeys
  clearError(byId('alert'))
  byId('sign-in').hidden = true
  byId('keys').hidden = false
  byId('session').hidden = false
  const tenant = sessionStorage.getItem(TENANT_ITEM)
  byId('session-label').textContent = config.tenantHeader !== '' && tenant ? `Signed in, tenant ${tenant}` : 'Signed in'
  render()
  if (focus instanceof HTMLElement) focus.focus()
  await Promise.all(state.keys.map((key) => loadUsage(key.name)))
  if (announce !== undefined) say(announce)
}

/** Re-renders the list, keeping the keyboard focus on the control that had it. */
function render () {
  const focused = document.activeElement?.dataset?.focusId
  byId('key-list').replaceChildren(...state.keys.map(keySection))
  if (focused !== undefined) document.querySelector(`[data-focus-id="${CSS.escape(focused)}"]`)?.focus()
}

// The ids made here start with heading-, current-, previous- or usage-, which no id of the page's HTML does: a key
// named "name" or "title" must not take the id of a field of the dialogs.
function keySection (key) {
  const heading = `heading-${key.name}`
  return el('section', { class: 'key', 'aria-labelledby': heading }, [
    el('div', { class: 'key-head' }, [
      el('h3', { id: heading, tabindex: '-1', 'data-focus-id': `key:${key.name}` }, [key.name]),
      el('div', { class: 'actions' }, [
        button('Rotate', (event) => openRotate(key, event.currentTarget), { 'data-focus-id': `rotate:${key.name}` }),
        button('Edit', (event) => openKeyDialog(key, event.currentTarget), { 'data-focus-id': `edit:${key.name}` }),
        key.name === 'default' ? null : button('Delete', (event) => confirmDelete(key, event.currentTarget), { 'data-focus-id': `delete:${key.name}` })
      ])
    ]),
    el('dl', { class: 'facts' }, facts(key).flatMap(([term, value]) => [el('dt', {}, [term]), el('dd', {}, [value])])),
    currentKey(key),
    previousKeys(key),
    el('figure', { class: 'usage', id: `usage-${key.name}`, 'aria-labelledby': `usage-caption-${key.name}` }, usageContent(key.name))
  ])
}

function facts (key) {
  const list = [
    ['Fingerprint', el('code', {}, [key.fingerprint])],
    ['Description', key.description === '' ? el('span', { class: 'none' }, ['None']) : key.description],
    ['Allowed origins', key.allowedOrigins === null ? 'Any origin' : key.allowedOrigins.join(', ')]
  ]
  if ('allowedApps' in key) list.push(['Allowed apps', describeApps(key.allowedApps)])
  if ('requireAttestation' in key) list.push(['Attestation', key.requireAttestation ? 'Required' : 'Not required'])
  if ('rateLimit' in key) {
    list.push(['Rate limit', key.rateLimit === null ? 'The host\'s default' : `${plural(key.rateLimit.max, 'request', 'requests')} per ${count(key.rateLimit.timeWindowMs / 1000)} s`])
  }
  list.push(['Created', el('time', { datetime: key.createdAt }, [when(key.createdAt)])])
  return list
}

function describeApps (apps) {
  if (apps === null || apps === undefined) return 'Any app'
  const android = (apps.android ?? []).map((app) => `Android ${app.packageName}`)
  const ios = (apps.ios ?? []).map((bundle) => `iOS ${bundle}`)
  return [...android, ...ios].join(', ')
}

function currentKey (key) {
  const id = `current-${key.name}`
  const input = el('input', { id, class: 'key-value', readonly: true, value: key.anonKey, spellcheck: 'false', 'data-focus-id': `current:${key.name}` })
  return el('div', { class: 'current' }, [
    el('div', { class: 'field' }, [el('label', { for: id }, ['Current key']), input]),
    button('Copy key', () => copyKey(key, input), { 'data-focus-id': `copy:${key.name}` })
  ])
}

async function copyKey (key, input) {
  try {
    await navigator.clipboard.writeText(key.anonKey)
  } catch {
    // Without clipboard access (an insecure origin, a denied permission), the selection is copied instead.
    input.select()
    if (!document.execCommand('copy')) return say('The key could not be copied: it is selected, press Ctrl+C (or ⌘C).')
  }
  say(`Copied the current key of ${key.name}.`)
}

function previousKeys (key) {
  const heading = el('h4', {}, ['Previous keys'])
  if (key.previousKeys.length === 0) {
    return el('div', {}, [heading, el('p', { class: 'none' }, ['None. After a rotation the old key is listed here until its grace ends.'])])
  }
  const rows = key.previousKeys.map((previous) => {
    const fingerprintId = `previous-${key.name}-${previous.fingerprint}`
    return el('tr', {}, [
      el('td', {}, [el('code', { id: fingerprintId }, [previous.fingerprint])]),
      el('td', {}, [el('time', { datetime: previous.rotatedAt }, [when(previous.rotatedAt)])]),
      el('td', {}, [graceLeft(previous)]),
      el('td', {}, [lastUsed(previous)]),
      el('td', {}, [safeToRevoke(previous)]),
      el('td', {}, [button('Revoke', (event) => confirmRevokeOne(key, previous, event.currentTarget), {
        class: 'quiet', 'aria-describedby': fingerprintId, 'data-focus-id': `revoke:${key.name}:${previous.fingerprint}`
      })])
    ])
  })
  return el('div', {}, [
    el('div', { class: 'key-head' }, [
      heading,
      el('div', { class: 'actions' }, [
        button('Revoke all', (event) => confirmRevokeAll(key, event.currentTarget), { 'data-focus-id': `revoke-all:${key.name}` })
      ])
    ]),
    el('table', {}, [
      el('thead', {}, [el('tr', {}, ['Fingerprint', 'Rotated', 'Grace left', 'Last used', 'Safe to revoke', 'Action'].map((title) => el('th', { scope: 'col' }, [title])))]),
      el('tbody', {}, rows)
    ])
  ])
}

function graceLeft (previous) {
  const fromFirstUse = previous.graceStartsAt === 'first-use'
  const left = el('span', { 'data-expires-at': previous.expiresAt }, [timeLeft(previous.expiresAt)])
  return el('span', {}, [
    fromFirstUse ? 'at most ' : '', left,
    el('br'),
    el('small', {}, [fromFirstUse ? 'from the new key\'s first use, ' : '', 'until ', el('time', { datetime: previous.expiresAt }, [when(previous.expiresAt)])])
  ])
}

function lastUsed (previous) {
  const used = 'lastUsedAt' in previous ? previous.lastUsedAt : previous.lastSeenAt
  if (used === undefined) return el('span', { class: 'none' }, ['Not reported'])
  if (used === null) return 'Never'
  return el('time', { datetime: used, title: when(used) }, [ago(used)])
}

function safeToRevoke (previous) {
  if (typeof previous.safeToRevoke !== 'boolean') return el('span', { class: 'none' }, ['Not reported'])
  return previous.safeToRevoke ? el('span', { class: 'safe' }, ['Yes']) : el('span', { class: 'unsafe' }, ['Not yet'])
}

/** The grace left of each previous key, kept current while the page stays open. */
function tick () {
  for (const left of document.querySelectorAll('[data-expires-at]')) left.textContent = timeLeft(left.dataset.expiresAt)
}

// ---------------------------------------------------------------- usage chart

async function loadUsage (name) {
  let entry
  try {
    entry = { data: await api('GET', `${keyPath(name)}/usage`) }
  } catch (error) {
    if (!(error instanceof ApiError)) throw error
    if (isAuthFailure(error)) return signInAgain(error)
    // A server without usage figures has no such route.
    entry = error.status === 404 || error.status === 501 ? { none: true } : { error }
  }
  state.usage.set(name, entry)
  byId(`usage-${name}`)?.replaceChildren(...usageContent(name))
}

function usageContent (name) {
  const caption = el('figcaption', { id: `usage-caption-${name}` }, ['Requests per hour, last 7 days'])
  const entry = state.usage.get(name)
  if (entry === undefined) return [caption, el('p', { class: 'none' }, ['Loading usage…'])]
  if (entry.none) return [caption, el('p', { class: 'none' }, ['No usage data: this server does not record usage over time.'])]
  if (entry.error !== undefined) return [caption, el('p', { class: 'none' }, [`Usage could not be loaded: ${entry.error.message}`])]
  const hours = hourlySeries(entry.data, Date.now())
  const summaryId = `usage-summary-${name}`
  return [
    caption,
    el('ul', { class: 'legend' }, [
      el('li', {}, [el('span', { class: 'swatch current' }), 'Current key']),
      el('li', {}, [el('span', { class: 'swatch previous' }), 'Previous keys']),
      el('li', {}, [el('span', { class: 'swatch refused' }), 'Refused (expired, revoked or not allowed)'])
    ]),
    chart(hours, `usage-caption-${name} ${summaryId}`),
    el('p', { class: 'summary', id: summaryId }, [usageSummary(hours)])
  ]
}

/** The last 7 days, hour by hour: requests with the current key, with previous keys, and refused. */
function hourlySeries (usage, now) {
  const start = Math.floor(now / HOUR_MS) * HOUR_MS - (CHART_HOURS - 1) * HOUR_MS
  const series = { start, current: new Array(CHART_HOURS).fill(0), previous: new Array(CHART_HOURS).fill(0), refused: new Array(CHART_HOURS).fill(0) }
  const add = (list, hour, requests) => {
    const index = Math.round((Date.parse(hour) - start) / HOUR_MS)
    if (index >= 0 && index < CHART_HOURS && Number.isFinite(requests)) list[index] += requests
  }
  for (const key of usage.keys ?? []) {
    const list = key.role === 'current' ? series.current : series.previous
    for (const { hour, requests } of key.hourly ?? []) add(list, hour, requests)
  }
  for (const { hour, requests } of usage.refused ?? []) add(series.refused, hour, requests)
  return series
}

const sum = (list) => list.reduce((total, n) => total + n, 0)

function usageSummary ({ current, previous, refused }) {
  const total = sum(current) + sum(previous) + sum(refused)
  if (total === 0) return 'No requests in the last 7 days.'
  return `Last 7 days: ${plural(sum(current), 'request', 'requests')} with the current key, ${count(sum(previous))} with previous keys, ` +
    `${count(sum(refused))} refused.`
}

/** A rounded top for the y axis: 1, 2 or 5 times a power of ten. */
function niceMax (value) {
  if (value <= 1) return 1
  const power = 10 ** Math.floor(Math.log10(value))
  return [1, 2, 5, 10].map((step) => step * power).find((top) => top >= value)
}

function chart ({ start, current, previous, refused }, labelledBy) {
  const [width, height, left, right, top, bottom] = [720, 180, 44, 8, 10, 24]
  const plotWidth = width - left - right
  const plotHeight = height - top - bottom
  const max = niceMax(Math.max(...current, ...previous, ...refused))
  const step = plotWidth / CHART_HOURS
  const x = (index) => left + (index + 0.5) * step
  const y = (value) => top + plotHeight - (value / max) * plotHeight
  const parts = []
  // Whole numbers of requests only: the middle line where the top is even.
  for (const value of max % 2 === 0 ? [0, max / 2, max] : [0, max]) {
    parts.push(svg('line', { class: 'grid', x1: left, x2: width - right, y1: y(value), y2: y(value) }))
    parts.push(svg('text', { class: 'axis', x: left - 6, y: y(value) + 4, 'text-anchor': 'end' }, [count(value)]))
  }
  for (let index = 0; index < CHART_HOURS; index++) {
    const hour = new Date(start + index * HOUR_MS)
    if (hour.getHours() !== 0) continue
    const edge = x(index) - step / 2
    parts.push(svg('line', { class: 'grid', x1: edge, x2: edge, y1: top, y2: top + plotHeight }))
    // A day that starts too near the right edge keeps its line but not its label, which would be cut.
    if (edge + 48 < width - right) parts.push(svg('text', { class: 'axis', x: edge + 3, y: height - 8 }, [dayFormat.format(hour)]))
  }
  refused.forEach((value, index) => {
    if (value > 0) parts.push(svg('rect', { class: 'bar refused', x: x(index) - step / 2, width: Math.max(step - 1, 1), y: y(value), height: top + plotHeight - y(value) }))
  })
  for (const [name, values] of [['previous', previous], ['current', current]]) {
    parts.push(svg('polyline', { class: `series ${name}`, points: values.map((value, index) => `${x(index).toFixed(1)},${y(value).toFixed(1)}`).join(' ') }))
  }
  return svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': labelledBy }, parts)
}

// ---------------------------------------------------------------- dialogs

let focusAfterDialog = null

function openDialog (dialog, opener) {
  clearError(dialog.querySelector('.alert'))
  focusAfterDialog = opener?.dataset?.focusId ?? null
  dialog.showModal()
}

function restoreFocus () {
  if (focusAfterDialog === null) return
  document.querySelector(`[data-focus-id="${CSS.escape(focusAfterDialog)}"]`)?.focus()
  focusAfterDialog = null
}

/** Runs a dialog's action with its submit button held; an error stays in the dialog, a refused token signs out. */
async function submitDialog (dialog, title, action) {
  const submit = dialog.querySelector('button[type="submit"]')
  submit.disabled = true
  try {
    await action()
    dialog.close()
    restoreFocus()
  } catch (error) {
    if (error instanceof ApiError && isAuthFailure(error)) {
      dialog.close()
      return signInAgain(error)
    }
    failed(error, title, dialog.querySelector('.alert'))
  } finally {
    submit.disabled = false
  }
}

/** A mistake the page itself catches before calling the server, shown as the server's errors are. */
class InputError extends ApiError {
  constructor (message, nextActions) {
    super(400, { error: 'INVALID_INPUT', message, nextActions })
  }
}

// ---- rotate

let rotating = null

function openRotate (key, opener) {
  rotating = key
  byId('rotate-title').textContent = `Rotate ${key.name}`
  const grace = byId('grace')
  grace.max = String(config.maxGraceHours)
  grace.value = String(config.defaultGraceHours)
  byId('grace-hint').textContent = `From 0 to ${count(config.maxGraceHours)} hours; ${count(config.defaultGraceHours)} is this server's default. 0 cuts the current key off at once.`
  byId('rotate-form').elements.graceStartsAt.value = 'rotation'
  describeRotation()
  openDialog(byId('rotate-dialog'), opener)
}

/** What the rotation will do to the apps that ship the current key, as the choices stand. */
function describeRotation () {
  if (rotating === null) return
  const hours = byId('grace').valueAsNumber
  const fromFirstUse = byId('rotate-form').elements.graceStartsAt.value === 'first-use'
  const name = rotating.name
  let text
  if (!Number.isInteger(hours) || hours < 0) {
    text = 'Choose a grace period in whole hours.'
  } else if (hours === 0) {
    text = `A new key replaces the current key of "${name}" now, and the current key stops working at once: every app that ships it ` +
      'is refused (401 ANON_KEY_EXPIRED) until it ships the new key. Use this when the key has leaked.'
  } else {
    const until = fromFirstUse
      ? `until ${plural(hours, 'hour', 'hours')} after the new key is first used (at the latest ${when(new Date(Date.now() + config.maxGraceHours * HOUR_MS))})`
      : `for ${plural(hours, 'hour', 'hours')}, until ${when(new Date(Date.now() + hours * HOUR_MS))}`
    text = `A new key replaces the current key of "${name}" now. Apps that ship the current key keep working ${until}; after that they ` +
      'are refused (401 ANON_KEY_EXPIRED) until they ship the new key. Release every app with the new key before then.'
  }
  byId('rotate-consequence').textContent = text
}

async function rotate (event) {
  event.preventDefault()
  const key = rotating
  const dialog = byId('rotate-dialog')
  await submitDialog(dialog, `${key.name} was not rotated.`, async () => {
    const body = { gracePeriodHours: byId('grace').valueAsNumber }
    if (byId('rotate-form').elements.graceStartsAt.value === 'first-use') body.graceStartsAt = 'first-use'
    const result = await api('POST', `${keyPath(key.name)}/rotate`, body)
    await loadKeys()
    say(`Rotated ${key.name}: ${result.message} The old key works until ${when(result.oldKeyExpiresAt)} at the latest.`)
  })
}

// ---- create and edit

let editing = null

const lines = (text) => text.split(/[\n,]/).map((line) => line.trim()).filter((line) => line !== '')
const supports = (property) => state.keys.some((key) => property in key)

function openKeyDialog (key, opener) {
  editing = key
  const creating = key === null
  byId('key-title').textContent = creating ? 'New key' : `Edit ${key.name}`
  byId('key-submit').textContent = creating ? 'Create' : 'Save'
  byId('name-row').hidden = !creating
  byId('key-name').required = creating
  byId('key-name').value = ''
  byId('key-description').value = key?.description ?? ''
  byId('key-origins').value = (key?.allowedOrigins ?? []).join('\n')
  const apps = supports('allowedApps')
  byId('android-row').hidden = !apps
  byId('ios-row').hidden = !apps
  byId('key-android').value = (key?.allowedApps?.android ?? []).map((app) => `${app.packageName} ${app.certSha1}`).join('\n')
  byId('key-ios').value = (key?.allowedApps?.ios ?? []).join('\n')
  byId('attestation-row').hidden = !supports('requireAttestation')
  byId('key-attestation').checked = key?.requireAttestation === true
  byId('rate-row').hidden = !supports('rateLimit')
  byId('key-rate-max').value = key?.rateLimit?.max ?? ''
  byId('key-rate-window').value = key?.rateLimit ? key.rateLimit.timeWindowMs / 1000 : ''
  openDialog(byId('key-dialog'), opener)
}

function appsFromForm () {
  const android = lines(byId('key-android').value.replaceAll(',', '\n')).map((line, index) => {
    const [packageName, certSha1, ...rest] = line.split(/\s+/)
    if (certSha1 === undefined || rest.length > 0) {
      throw new InputError(`Android apps, line ${index + 1}: "${line}" is not a package name and a certificate SHA-1.`,
        'Write one app a line: the package name, a space, then the SHA-1 of its signing certificate.')
    }
    return { packageName, certSha1 }
  })
  const ios = lines(byId('key-ios').value)
  if (android.length === 0 && ios.length === 0) return null
  return { ...(android.length > 0 ? { android } : {}), ...(ios.length > 0 ? { ios } : {}) }
}

function rateLimitFromForm () {
  const max = byId('key-rate-max').value.trim()
  const seconds = byId('key-rate-window').value.trim()
  if (max === '' && seconds === '') return null
  if (max === '' || seconds === '') throw new InputError('A rate limit needs both a number of requests and a number of seconds.', 'Fill in both, or empty both for the host\'s default.')
  return { max: Number(max), timeWindowMs: Number(seconds) * 1000 }
}

async function saveKey (event) {
  event.preventDefault()
  const key = editing
  const dialog = byId('key-dialog')
  const creating = key === null
  const name = creating ? byId('key-name').value.trim() : key.name
  await submitDialog(dialog, creating ? 'The key was not created.' : `${key.name} was not changed.`, async () => {
    const origins = lines(byId('key-origins').value)
    const description = byId('key-description').value.trim()
    const body = {}
    if (creating) body.name = name
    if (!creating || description !== '') body.description = description
    if (!creating || origins.length > 0) body.allowedOrigins = origins.length > 0 ? origins : null
    if (supports('allowedApps')) {
      const apps = appsFromForm()
      if (!creating || apps !== null) body.allowedApps = apps
    }
    if (supports('requireAttestation') && (!creating || byId('key-attestation').checked)) body.requireAttestation = byId('key-attestation').checked
    if (supports('rateLimit')) {
      const limit = rateLimitFromForm()
      if (!creating || limit !== null) body.rateLimit = limit
    }
    if (creating) {
      await api('POST', 'secrets/anon-keys', body)
      focusAfterDialog = `key:${name}`
    } else {
      await api('PATCH', keyPath(name), body)
    }
    await loadKeys()
    say(creating ? `Created the key ${name}. Copy it into the app it is for.` : `Saved ${name}.`)
  })
}

// ---- confirmations: delete, revoke

let confirming = null

function openConfirm ({ title, text, confirm, failure, action }, opener) {
  confirming = { failure, action }
  byId('confirm-title').textContent = title
  byId('confirm-text').textContent = text
  byId('confirm-submit').textContent = confirm
  openDialog(byId('confirm-dialog'), opener)
}

async function runConfirmed (event) {
  event.preventDefault()
  const { failure, action } = confirming
  await submitDialog(byId('confirm-dialog'), failure, action)
}

function confirmDelete (key, opener) {
  const previous = key.previousKeys.length
  openConfirm({
    title: `Delete ${key.name}?`,
    text: `Its current key${previous > 0 ? ` and its ${plural(previous, 'previous key', 'previous keys')}` : ''} stop working at once: every app ` +
      'that ships one of them is refused (401 ANON_KEY_REVOKED). This cannot be undone; the name can be created again, with a new key.',
    confirm: 'Delete',
    failure: `${key.name} was not deleted.`,
    action: async () => {
      await api('DELETE', keyPath(key.name))
      focusAfterDialog = 'keys'
      await loadKeys()
      say(`Deleted ${key.name}.`)
    }
  }, opener)
}

function confirmRevokeAll (key, opener) {
  const inUse = key.previousKeys.filter((previous) => previous.safeToRevoke === false).length
  openConfirm({
    title: `Revoke every previous key of ${key.name}?`,
    text: `${plural(key.previousKeys.length, 'previous key stops', 'previous keys stop')} working now, before the end of their grace: apps that ` +
      `still ship one are refused (401 ANON_KEY_REVOKED). ${inUse > 0 ? `${plural(inUse, 'of them is', 'of them are')} not yet safe to revoke: used or rotated recently. ` : ''}` +
      'The current key keeps working.',
    confirm: 'Revoke all',
    failure: 'Nothing was revoked.',
    action: async () => {
      const result = await api('DELETE', `${keyPath(key.name)}/previous`)
      focusAfterDialog = `rotate:${key.name}`
      await loadKeys()
      say(`Revoked ${plural(result.revoked, 'previous key', 'previous keys')} of ${key.name}.`)
    }
  }, opener)
}

function confirmRevokeOne (key, previous, opener) {
  openConfirm({
    title: `Revoke ${previous.fingerprint}?`,
    text: `This previous key of ${key.name} stops working now, before the end of its grace: apps that still ship it are refused ` +
      `(401 ANON_KEY_REVOKED).${previous.safeToRevoke === false ? ' It is not yet safe to revoke: used or rotated recently.' : ''} The current key keeps working.`,
    confirm: 'Revoke',
    failure: 'Nothing was revoked.',
    action: async () => {
      await api('DELETE', `${keyPath(key.name)}/previous/${encodeURIComponent(previous.fingerprint)}`)
      focusAfterDialog = `rotate:${key.name}`
      await loadKeys()
      say(`Revoked the previous key ${previous.fingerprint} of ${key.name}.`)
    }
  }, opener)
}

// ---------------------------------------------------------------- start

function start () {
  if (config.tenantHeader !== '') {
    byId('tenant-row').hidden = false
    byId('tenant').required = true
  }
  byId('sign-in').addEventListener('submit', signIn)
  byId('sign-out').addEventListener('click', signOut)
  byId('refresh').addEventListener('click', () => loadKeys({ announce: `Refreshed at ${timeFormat.format(new Date())}.` }))
  byId('new-key').addEventListener('click', (event) => openKeyDialog(null, event.currentTarget))
  byId('new-key').dataset.focusId = 'new-key'
  byId('keys-heading').dataset.focusId = 'keys'
  byId('rotate-form').addEventListener('submit', rotate)
  byId('rotate-form').addEventListener('input', describeRotation)
  byId('key-form').addEventListener('submit', saveKey)
  byId('confirm-form').addEventListener('submit', runConfirmed)
  for (const dialog of document.querySelectorAll('dialog')) {
    dialog.querySelector('.cancel').addEventListener('click', () => dialog.close())
    dialog.addEventListener('close', restoreFocus)
  }
  setInterval(tick, 30_000)
  if (sessionStorage.getItem(TOKEN_ITEM)) loadKeys()
  else showSignIn()
}

start()
