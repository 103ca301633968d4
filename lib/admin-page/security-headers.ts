/**
 * The page runs only its own script and style, talks only to its own origin, and cannot be framed. Trusted
 * Types make any HTML string written into the page an error: the script builds every element by hand. Its
 * only image is an empty data: icon, so that the browser does not ask the host for /favicon.ico.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  'img-src data:',
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'"
].join('; ')

/** Sent with the page and each of its files. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  // Revalidated on every load (ETag), so that an upgraded package serves its new page at once.
  'cache-control': 'no-cache'
}
