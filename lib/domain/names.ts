/** What a key name looks like: `web`, `ios`, `android`, `partner_a`. */
export const KEY_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/

/** The key every project has once initialized; the seed's routes act on it, and it cannot be deleted. */
export const DEFAULT_KEY_NAME = 'default'

/** What a tenant id looks like. */
export const TENANT_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/

/** The project of a plugin that runs without `tenant`: no tenant id can equal it. */
export const SINGLE_PROJECT = ''

export function isKeyName (value: unknown): value is string {
  return typeof value === 'string' && KEY_NAME_PATTERN.test(value)
}

export function isTenantId (value: unknown): value is string {
  return typeof value === 'string' && TENANT_ID_PATTERN.test(value)
}

/** A tenant id, or SINGLE_PROJECT: what a store keeps one document for. */
export function isProject (value: unknown): value is string {
  return value === SINGLE_PROJECT || isTenantId(value)
}

/** The longest description a named key may carry. */
export const MAX_DESCRIPTION_LENGTH = 200
