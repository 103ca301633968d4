import { DEFAULT_KEY_NAME, isKeyName, isTenantId } from '../domain/names.js'
import { usageError } from './cli-error.js'

/** --tenant, checked before any store is opened or a token signed. */
export function tenantOf (given: unknown): string | null {
  if (given === undefined) return null
  if (!isTenantId(given)) throw usageError(`--tenant must be a tenant id of 1 to 64 characters from [A-Za-z0-9._-], got ${JSON.stringify(given)}.`, 'Pass the id your app\'s tenant(request) returns for the project.')
  return given
}

/** --name, checked before any store is opened: the key to act on, `default` when absent. */
export function nameOf (given: unknown): string {
  if (given === undefined) return DEFAULT_KEY_NAME
  if (!isKeyName(given)) throw usageError(`--name must be a key name: a lowercase letter, then up to 31 lowercase letters, digits, _ or -; got ${JSON.stringify(given)}.`, 'Run fastify-anon-key keys for the names of the keys.')
  return given
}
