/**
 * Native apps for `allowedApps`: Android apps by package name and signing certificate SHA-1, iOS apps by bundle
 * id. Parsing an entry into its one normal form, and the matcher that judges a request's app headers. Pure.
 */

/** How many entries each platform's list of one key may hold. */
export const MAX_ALLOWED_APPS = 50

export interface AndroidApp {
  packageName: string
  /** SHA-1 of the signing certificate: 40 lowercase hex characters, no colons. */
  certSha1: string
}

/** A key's apps, in normal form: a platform without entries is left out. */
export interface AllowedApps {
  android?: AndroidApp[]
  ios?: string[]
}

/** At least two segments, each a letter then letters, digits or underscores (Android's applicationId rule). */
const PACKAGE_NAME = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$/
/** Letters, digits and hyphens in at least two dot-separated segments, as Apple's bundle ids are written. */
const BUNDLE_ID = /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/
const SHA1_HEX = /^[0-9a-f]{40}$/
const MAX_PACKAGE_NAME = 255
const MAX_BUNDLE_ID = 155
/** 40 hex characters with a colon between every pair, the longest way a SHA-1 is written. */
const MAX_CERT_TEXT = 59

export const ALLOWED_APPS_SHAPE = 'allowedApps must be null or an object such as ' +
  '{ "android": [{ "packageName": "com.example.app", "certSha1": "AB:CD:…" }], "ios": ["com.example.app"] }'

/** A certificate SHA-1 as 40 lowercase hex characters, whatever its case and colons; null when it is none. */
export function normaliseCertSha1 (value: string): string | null {
  if (value.length > MAX_CERT_TEXT) return null
  const hex = value.replaceAll(':', '').toLowerCase()
  return SHA1_HEX.test(hex) ? hex : null
}

const shown = (value: unknown): string => typeof value === 'string' ? JSON.stringify(value.slice(0, 100)) : typeof value

function certProblem (value: unknown): string | null {
  if (typeof value !== 'string') return `must be a string, got ${typeof value}`
  if (normaliseCertSha1(value) !== null) return null
  const hex = value.replaceAll(':', '')
  if (/^[0-9a-f]{64}$/i.test(hex)) {
    return `${shown(value)} is a SHA-256 fingerprint; give the SHA-1 of the signing certificate (40 hex characters, the "SHA1:" line of keytool -list -v or ./gradlew signingReport)`
  }
  return `${shown(value)} must be the SHA-1 of the signing certificate: 40 hex characters, colons allowed (AB:CD:…)`
}

function androidProblem (entry: unknown): string | null {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return 'must be an object { "packageName", "certSha1" }'
  const extra = Object.keys(entry).find((name) => name !== 'packageName' && name !== 'certSha1')
  if (extra !== undefined) return `has the unknown property ${JSON.stringify(extra.slice(0, 64))}: an Android app is { "packageName", "certSha1" }`
  const { packageName, certSha1 } = entry as Record<string, unknown>
  if (typeof packageName !== 'string' || packageName.length > MAX_PACKAGE_NAME || !PACKAGE_NAME.test(packageName)) {
    return `.packageName ${shown(packageName)} must be an Android package name such as "com.example.app" ` +
      '(two or more segments, each a letter then letters, digits or underscores)'
  }
  const cert = certProblem(certSha1)
  return cert === null ? null : `.certSha1 ${cert}`
}

function listProblem (value: unknown, where: string): string | null {
  if (!Array.isArray(value) || value.length < 1 || value.length > MAX_ALLOWED_APPS) {
    return `${where} must be an array of 1 to ${MAX_ALLOWED_APPS} apps (leave it out for none)`
  }
  return null
}

/**
 * Checks a whole `allowedApps` value (null for none) and returns it in normal form, duplicates removed, or a
 * message that names the entry and what is wrong with it. iOS bundle ids compare case-insensitively, as Apple
 * treats them, and are kept in lowercase; Android package names are case-sensitive.
 */
export function normaliseAllowedApps (value: unknown): { apps: AllowedApps | null } | { problem: string } {
  if (value === null) return { apps: null }
  if (typeof value !== 'object' || Array.isArray(value)) return { problem: ALLOWED_APPS_SHAPE }
  const extra = Object.keys(value).find((name) => name !== 'android' && name !== 'ios')
  if (extra !== undefined) return { problem: `allowedApps has the unknown property ${JSON.stringify(extra.slice(0, 64))}: it takes android and ios` }
  const { android, ios } = value as Record<string, unknown>
  if (android === undefined && ios === undefined) {
    return { problem: 'allowedApps must name at least one app in android or ios; null lifts the restriction' }
  }
  const apps: AllowedApps = {}
  if (android !== undefined) {
    const problem = listProblem(android, 'allowedApps.android')
    if (problem !== null) return { problem }
    const seen = new Map<string, AndroidApp>()
    for (const [index, entry] of (android as unknown[]).entries()) {
      const entryProblem = androidProblem(entry)
      if (entryProblem !== null) return { problem: `allowedApps.android[${index}]${entryProblem.startsWith('.') ? '' : ' '}${entryProblem}` }
      const { packageName, certSha1 } = entry as AndroidApp
      const app = { packageName, certSha1: normaliseCertSha1(certSha1) as string }
      seen.set(`${app.packageName}/${app.certSha1}`, app)
    }
    apps.android = [...seen.values()]
  }
  if (ios !== undefined) {
    const problem = listProblem(ios, 'allowedApps.ios')
    if (problem !== null) return { problem }
    const seen = new Set<string>()
    for (const [index, entry] of (ios as unknown[]).entries()) {
      if (typeof entry !== 'string' || entry.length > MAX_BUNDLE_ID || !BUNDLE_ID.test(entry)) {
        return {
          problem: `allowedApps.ios[${index}] ${shown(entry)} must be an iOS bundle id such as "com.example.app" ` +
            `(letters, digits and hyphens in two or more dot-separated segments, at most ${MAX_BUNDLE_ID} characters)`
        }
      }
      seen.add(entry.toLowerCase())
    }
    apps.ios = [...seen]
  }
  return { apps }
}

/**
 * Decides whether a request's app headers name one of a key's apps. Built once per key from its normalised
 * entries: a request that sends the values in normal form costs Map and Set lookups; only a certificate with
 * colons or capitals, or a bundle id with capitals, is normalised first.
 */
export class AppMatcher {
  /** Package name → the certificates allowed for it. */
  private readonly android = new Map<string, Set<string>>()
  private readonly ios: Set<string>

  constructor (apps: AllowedApps) {
    for (const { packageName, certSha1 } of apps.android ?? []) {
      const certs = this.android.get(packageName) ?? new Set()
      certs.add(certSha1)
      this.android.set(packageName, certs)
    }
    this.ios = new Set(apps.ios ?? [])
  }

  /** Whether the headers (X-Android-Package with X-Android-Cert, or X-Ios-Bundle-Identifier) name an allowed app. */
  allows (androidPackage: unknown, androidCert: unknown, iosBundle: unknown): boolean {
    if (typeof androidPackage === 'string' && typeof androidCert === 'string') {
      const certs = this.android.get(androidPackage)
      if (certs !== undefined) {
        if (certs.has(androidCert)) return true
        const cert = normaliseCertSha1(androidCert)
        if (cert !== null && certs.has(cert)) return true
      }
    }
    if (typeof iosBundle === 'string' && this.ios.size > 0) {
      return this.ios.has(iosBundle) || (iosBundle.length <= MAX_BUNDLE_ID && this.ios.has(iosBundle.toLowerCase()))
    }
    return false
  }
}
