import { Type } from '@sinclair/typebox'
import { MAX_ALLOWED_APPS } from '../domain/apps.js'
import { MAX_RATE_LIMIT_MAX, MAX_RATE_LIMIT_WINDOW_MS } from '../domain/rate-limit.js'

/**
 * Schemas of a named key's apps, attestation and rate limit. They give the shape; the rules of each value
 * (package names, bundle ids, certificate fingerprints) are checked by the domain, whose message names the entry.
 */

const AndroidApp = Type.Object({
  packageName: Type.String({ maxLength: 255, description: 'The applicationId, such as com.example.app', examples: ['com.example.app'] }),
  certSha1: Type.String({
    maxLength: 128,
    description: 'SHA-1 of the app\'s signing certificate: 40 hex characters, colons and case ignored (stored as 40 lowercase hex)',
    examples: ['DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF:95:60:18:90:AF:D8:07:09']
  })
}, { additionalProperties: false })

const AppLists = {
  android: Type.Optional(Type.Array(AndroidApp, { minItems: 1, maxItems: MAX_ALLOWED_APPS, description: 'Android apps, matched by X-Android-Package and X-Android-Cert' })),
  ios: Type.Optional(Type.Array(Type.String({ maxLength: 155 }), {
    minItems: 1,
    maxItems: MAX_ALLOWED_APPS,
    description: 'iOS bundle ids, matched by X-Ios-Bundle-Identifier, case-insensitively (stored lowercase)',
    examples: [['com.example.app']]
  }))
}

const APPS_NOTE = 'A request passes when its headers name one of them, or, when the key also has allowedOrigins, ' +
  'when it comes from one of those; otherwise 403 ANON_KEY_APP_NOT_ALLOWED. These headers stop casual reuse of the key, not a determined client.'

export const AllowedApps = Type.Union([
  Type.Object(AppLists, { additionalProperties: false, minProperties: 1 }),
  Type.Null()
], { description: `Apps allowed to use the key, or null for any. ${APPS_NOTE}` })

export const AllowedAppsInfo = Type.Union([Type.Object(AppLists), Type.Null()], { description: `Normalised apps allowed to use the key, or null for any. ${APPS_NOTE}` })

export const RequireAttestation = Type.Boolean({
  description: 'Whether a request needs a valid attestation token (the plugin\'s attestation option): 401 ANON_KEY_ATTESTATION_REQUIRED without one, ' +
    '401 ANON_KEY_ATTESTATION_INVALID for a bad or expired one'
})

export const RateLimitSchema = Type.Union([
  Type.Object({
    max: Type.Integer({ minimum: 1, maximum: MAX_RATE_LIMIT_MAX, description: 'Requests allowed per window' }),
    timeWindowMs: Type.Integer({ minimum: 1, maximum: MAX_RATE_LIMIT_WINDOW_MS, description: 'The window, in milliseconds' })
  }, { additionalProperties: false }),
  Type.Null()
], { description: 'The key\'s own limit for anonKeyRateLimit (429 RATE_LIMITED beyond it), or null for its defaults', examples: [{ max: 100, timeWindowMs: 60000 }] })
