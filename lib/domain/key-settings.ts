import { normaliseAllowedApps, type AllowedApps } from './apps.js'
import { normaliseRateLimit, type RateLimit } from './rate-limit.js'

/**
 * The settings of a named key beyond its description and origins: the apps it is bound to, whether it needs an
 * attestation token, and its rate limit. A setting left out of a change stays as it is; `null` (false for
 * requireAttestation) turns it off. A document without them has them off.
 */
export interface KeySettings {
  allowedApps?: AllowedApps | null
  requireAttestation?: boolean
  rateLimit?: RateLimit | null
}

export const KEY_SETTINGS = ['allowedApps', 'requireAttestation', 'rateLimit'] as const

/** The settings a create or a change names, checked and in normal form, or what is wrong with one of them. */
export function normaliseKeySettings (input: Partial<Record<typeof KEY_SETTINGS[number], unknown>>): { settings: KeySettings } | { problem: string } {
  const settings: KeySettings = {}
  if (input.allowedApps !== undefined) {
    const checked = normaliseAllowedApps(input.allowedApps)
    if ('problem' in checked) return checked
    settings.allowedApps = checked.apps
  }
  if (input.requireAttestation !== undefined) {
    if (typeof input.requireAttestation !== 'boolean') return { problem: `requireAttestation must be true or false, got ${JSON.stringify(input.requireAttestation)?.slice(0, 40)}` }
    settings.requireAttestation = input.requireAttestation
  }
  if (input.rateLimit !== undefined) {
    const checked = normaliseRateLimit(input.rateLimit)
    if ('problem' in checked) return checked
    settings.rateLimit = checked.rateLimit
  }
  return { settings }
}

/** What is wrong with the settings of a key a store handed back (absent is off), or null. */
export function keySettingsProblem (key: Record<string, unknown>): string | null {
  const checked = normaliseKeySettings(key)
  return 'problem' in checked ? checked.problem : null
}
