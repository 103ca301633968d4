import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ASSETS_DIR } from './assets-dir.cjs'

/** One file the page plugin serves, read once at start-up. */
export interface PageAsset {
  body: Buffer
  contentType: string
  etag: string
}

/** What the page's script reads from its <html> element's data attributes. */
export interface PageConfig {
  /** The admin routes' prefix, relative to the page's own address and ending with "/" (or ''). */
  apiBase: string
  /** '' when the page sends no tenant header. */
  tenantHeader: string
  defaultGraceHours: number
  maxGraceHours: number
}

/** The page's address relative to its prefix ('' is the page itself), and the file each is made from. */
const FILES: ReadonlyArray<[path: string, file: string, contentType: string]> = [
  ['', 'index.html', 'text/html; charset=utf-8'],
  ['admin-page.js', 'admin-page.js', 'text/javascript; charset=utf-8'],
  ['admin-page.css', 'admin-page.css', 'text/css; charset=utf-8']
]

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '"': '&quot;', '<': '&lt;', '>': '&gt;', "'": '&#39;' }

/** Fills the page's {{placeholders}}, each inside a quoted attribute. */
function renderPage (template: string, config: PageConfig): string {
  let page = template
  for (const [name, value] of Object.entries(config)) {
    page = page.replaceAll(`{{${name}}}`, String(value).replace(/[&"<>']/g, (character) => HTML_ESCAPES[character]))
  }
  return page
}

/**
 * The admin routes' prefix as seen from the page's folder (`${pagePrefix}/`): relative, so that the page keeps
 * working behind a proxy that serves the whole app under a path of its own.
 */
export function relativeApiBase (pagePrefix: string, routesPrefix: string): string {
  const depth = pagePrefix.split('/').filter(Boolean).length
  return '../'.repeat(depth) + (routesPrefix === '' ? '' : routesPrefix.slice(1) + '/')
}

function asset (body: Buffer, contentType: string): PageAsset {
  return { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` }
}

/** Reads the page's files and fills in the page's settings. */
export async function loadPageAssets (config: PageConfig): Promise<Map<string, PageAsset>> {
  const assets = new Map<string, PageAsset>()
  for (const [path, file, contentType] of FILES) {
    const content = await readFile(join(ASSETS_DIR, file))
    assets.set(path, asset(path === '' ? Buffer.from(renderPage(content.toString('utf8'), config)) : content, contentType))
  }
  return assets
}
