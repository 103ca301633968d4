import { join } from 'node:path'
import type { Locator, Page } from 'playwright-core'

/** The admin page's files, by their address under routePrefix, with their content type. */
export const PAGE_FILES: ReadonlyArray<[path: string, contentType: string]> = [
  ['', 'text/html; charset=utf-8'],
  ['admin-page.js', 'text/javascript; charset=utf-8'],
  ['admin-page.css', 'text/css; charset=utf-8']
]

/** The page and everything it loads stay under 150 KiB. */
export const PAGE_WEIGHT_LIMIT = 150 * 1024

/** What a page did that a test checks afterwards: errors, and requests that left the app or failed. */
export interface PageWatch {
  /** Console errors other than the browser's own note on a failed response (those are in `failed`). */
  consoleErrors: string[]
  /** How many times the browser noted a failed response in the console. */
  failedResponseNotes: number
  /** Uncaught exceptions in the page. */
  pageErrors: string[]
  /** Requests to anywhere but the app. */
  elsewhere: string[]
  /** Responses of 400 and over, as "status METHOD path". */
  failed: string[]
  /** Bytes of the responses of the page's own files (not of the admin routes). */
  pageBytes: number
}

export function watchPage (page: Page, base: string, routePrefix = '/anon-keys'): PageWatch {
  const watch: PageWatch = { consoleErrors: [], failedResponseNotes: 0, pageErrors: [], elsewhere: [], failed: [], pageBytes: 0 }
  page.on('console', (message) => {
    if (message.type() !== 'error') return
    if (/^Failed to load resource: the server responded with a status of \d+/.test(message.text())) watch.failedResponseNotes++
    else watch.consoleErrors.push(message.text())
  })
  page.on('pageerror', (error) => { watch.pageErrors.push(error.message) })
  page.on('request', (request) => { if (!request.url().startsWith(`${base}/`)) watch.elsewhere.push(request.url()) })
  page.on('response', async (response) => {
    const url = new URL(response.url())
    if (response.status() >= 400) watch.failed.push(`${response.status()} ${response.request().method()} ${url.pathname}`)
    if (url.pathname.startsWith(`${routePrefix}/`) && response.status() === 200) watch.pageBytes += (await response.body()).length
  })
  return watch
}

/** Presses Tab until `target` has the focus, as a keyboard user would reach it; fails after `most` presses. */
export async function tabTo (page: Page, target: Locator, most = 60): Promise<void> {
  for (let presses = 0; presses < most; presses++) {
    if (await target.evaluate((element) => element === element.ownerDocument.activeElement)) return
    await page.keyboard.press('Tab')
  }
  throw new Error(`Tab never reached ${String(target)} in ${most} presses`)
}

/** Whether `target` has the keyboard focus. */
export async function isFocused (target: Locator): Promise<boolean> {
  return target.evaluate((element) => element === element.ownerDocument.activeElement)
}

/** Where the tests save the screenshots of docs/admin-page.md, when ADMIN_PAGE_SCREENSHOTS=1. */
export const SCREENSHOTS = process.env.ADMIN_PAGE_SCREENSHOTS === '1' ? join(__dirname, '..', '..', 'docs', 'images') : null
