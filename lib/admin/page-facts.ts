import type { ResolvedOptions } from '../options/options.js'

/** What the admin page, a plugin of its own registered after this one, needs to know of the admin routes. */
export interface AdminPageFacts {
  /** The full path prefix of the admin routes, the host's own prefixes included ('' or '/…'). */
  routesPrefix: string
  tenantMode: boolean
  defaultGracePeriodHours: number
  maxGracePeriodHours: number
}

/**
 * The decoration that carries the facts. A registry symbol, so that a page loaded through the package's CommonJS
 * build finds the plugin loaded through its ES module build, and the other way round.
 */
export const ADMIN_PAGE_FACTS = Symbol.for('fastify-anon-key.admin-page-facts')

export function adminPageFacts (hostPrefix: string, settings: ResolvedOptions): AdminPageFacts {
  return {
    routesPrefix: hostPrefix + settings.prefix,
    tenantMode: settings.tenant !== null,
    defaultGracePeriodHours: settings.defaultGracePeriodHours,
    maxGracePeriodHours: settings.maxGracePeriodHours
  }
}
