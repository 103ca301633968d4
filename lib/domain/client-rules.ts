import { AppMatcher } from './apps.js'
import type { NamedKey } from './project.js'
import { OriginMatcher } from './origins.js'

/** What a key asks of the client that sends it, compiled once per version of the key's document. */
export interface ClientRules {
  origins: OriginMatcher | null
  apps: AppMatcher | null
  requireAttestation: boolean
}

/** What a request tells about its client: the headers the rules read. */
export interface ClientInputs {
  origin?: unknown
  referer?: unknown
  /** X-Android-Package */
  androidPackage?: unknown
  /** X-Android-Cert: SHA-1 of the app's signing certificate, case and colons ignored. */
  androidCert?: unknown
  /** X-Ios-Bundle-Identifier */
  iosBundle?: unknown
  /** The attestation token, from the header the `attestation` option names. */
  attestationToken?: unknown
}

export type BindingRefusal = 'ANON_KEY_ORIGIN_NOT_ALLOWED' | 'ANON_KEY_APP_NOT_ALLOWED'

/** The key's rules, or null when it asks nothing of its client (the common case, judged with no call at all). */
export function clientRules (key: NamedKey): ClientRules | null {
  const origins = key.allowedOrigins === null ? null : new OriginMatcher(key.allowedOrigins)
  const apps = key.allowedApps === undefined || key.allowedApps === null ? null : new AppMatcher(key.allowedApps)
  const requireAttestation = key.requireAttestation === true
  if (origins === null && apps === null && !requireAttestation) return null
  return { origins, apps, requireAttestation }
}

/**
 * Whether the request comes from where the key may be used: with origins and apps both set, satisfying either
 * is enough. Refused, a request that named an app is told about apps, any other about origins.
 */
export function bindingRefusal (rules: ClientRules, inputs: ClientInputs): BindingRefusal | null {
  const { origins, apps } = rules
  if (origins === null && apps === null) return null
  if (origins !== null && origins.allows(inputs.origin as string | undefined, inputs.referer as string | undefined)) return null
  if (apps !== null && apps.allows(inputs.androidPackage, inputs.androidCert, inputs.iosBundle)) return null
  if (apps === null) return 'ANON_KEY_ORIGIN_NOT_ALLOWED'
  if (origins === null) return 'ANON_KEY_APP_NOT_ALLOWED'
  const namedAnApp = inputs.androidPackage !== undefined || inputs.androidCert !== undefined || inputs.iosBundle !== undefined
  return namedAnApp ? 'ANON_KEY_APP_NOT_ALLOWED' : 'ANON_KEY_ORIGIN_NOT_ALLOWED'
}

export type AttestationRefusal = 'ANON_KEY_ATTESTATION_REQUIRED' | 'ANON_KEY_ATTESTATION_INVALID'
export type ClientRefusal = BindingRefusal | AttestationRefusal

/**
 * Checks an attestation token (absent: undefined) for a request (undefined when verify() is called from code):
 * null when it is valid. Synchronous for a token already verified; a promise, which never rejects, otherwise.
 */
export type AttestationCheck = (token: unknown, request: unknown) => AttestationRefusal | null | Promise<AttestationRefusal | null>

/**
 * Everything a key asks of its client, in order: where the request comes from, then its attestation token.
 * Without an attestation check (the plugin has no `attestation` option), a key that requires one admits no
 * request: failing closed.
 */
export function clientRefusal (
  rules: ClientRules,
  inputs: ClientInputs,
  attest: AttestationCheck | null,
  request?: unknown
): ClientRefusal | null | Promise<ClientRefusal | null> {
  const binding = bindingRefusal(rules, inputs)
  if (binding !== null) return binding
  if (!rules.requireAttestation) return null
  if (attest === null) return 'ANON_KEY_ATTESTATION_REQUIRED'
  return attest(inputs.attestationToken, request)
}
