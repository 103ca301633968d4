import type { AllowedApps } from '../domain/apps.js'
import type { NamedKey } from '../domain/project.js'
import type { RateLimit } from '../domain/rate-limit.js'

export type { AllowedApps, RateLimit }

/** A key's apps, attestation and rate limit as listings show them: every field present, copies of the document's. */
export function keySettingsInfo (key: NamedKey): { allowedApps: AllowedApps | null, requireAttestation: boolean, rateLimit: RateLimit | null } {
  const apps = key.allowedApps ?? null
  return {
    allowedApps: apps === null
      ? null
      : {
          ...(apps.android === undefined ? {} : { android: apps.android.map((app) => ({ ...app })) }),
          ...(apps.ios === undefined ? {} : { ios: [...apps.ios] })
        },
    requireAttestation: key.requireAttestation === true,
    rateLimit: key.rateLimit === undefined || key.rateLimit === null ? null : { ...key.rateLimit }
  }
}
