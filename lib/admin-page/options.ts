import { closestName } from '../options/closest-name.js'
import { OptionError } from '../errors/option-errors.js'
import type { AdminPageFacts } from '../admin/page-facts.js'

export interface AnonKeyAdminPageOptions {
  /** Where the page is served: `${routePrefix}/`. Default: '/anon-keys'. */
  routePrefix?: string
  /**
   * Tenant mode: the request header that `tenant(request)` of fastify-anon-key reads (for example
   * 'x-project-id'). The page then asks for the tenant at sign-in and sends it in this header on every call.
   * Leave it out when the tenant comes from something the browser sends anyway, such as the host name.
   */
  tenantHeader?: string
}

export interface ResolvedPageOptions {
  routePrefix: string
  tenantHeader: string | null
}

const KNOWN_OPTIONS = ['routePrefix', 'tenantHeader']
/** Fastify's own register options, which reach a plugin's options too. */
const FASTIFY_REGISTER_OPTIONS = ['logLevel', 'logSerializers']
/** A path of one or more segments, without a trailing slash, query or fragment. */
const ROUTE_PREFIX = /^(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+$/
/** An HTTP header name (a token). */
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/

function fail (option: string, problem: string, fix: string): never {
  throw new OptionError.INVALID_OPTION(`fastify-anon-key/admin-page: option "${option}" ${problem}. ${fix}`)
}

/** Checks the page's options against the plugin registered before it; throws a message that names the fix. */
export function resolvePageOptions (options: AnonKeyAdminPageOptions, facts: AdminPageFacts): ResolvedPageOptions {
  for (const name of Object.keys(options)) {
    if (KNOWN_OPTIONS.includes(name) || FASTIFY_REGISTER_OPTIONS.includes(name)) continue
    // Fastify does not prefix the routes of a plugin made with fastify-plugin: the page has its own option.
    const hint = name === 'prefix' ? 'The page is served at routePrefix: pass { routePrefix: \'/anon-keys\' }.' : `Did you mean "${closestName(name, KNOWN_OPTIONS)}"?`
    throw new OptionError.UNKNOWN_OPTION(`fastify-anon-key/admin-page: unknown option "${name}". ${hint} Known options: ${KNOWN_OPTIONS.join(', ')}.`)
  }
  const { routePrefix = '/anon-keys', tenantHeader } = options
  if (typeof routePrefix !== 'string' || !ROUTE_PREFIX.test(routePrefix)) {
    fail('routePrefix', `must be a path such as '/anon-keys' (a leading "/", no trailing "/", no query), got ${JSON.stringify(routePrefix)}`,
      'Leave it out for \'/anon-keys\'.')
  }
  if (tenantHeader !== undefined) {
    if (!facts.tenantMode) {
      fail('tenantHeader', 'only applies in tenant mode, and fastify-anon-key was registered without tenant(request)',
        'Leave tenantHeader out, or give fastify-anon-key the tenant(request) that reads this header.')
    }
    if (typeof tenantHeader !== 'string' || !HEADER_NAME.test(tenantHeader) || tenantHeader.toLowerCase() === 'authorization') {
      fail('tenantHeader', `must be the name of the header that tenant(request) reads, got ${JSON.stringify(tenantHeader)}`,
        'Pass for example \'x-project-id\' (not authorization, which carries the admin token).')
    }
  }
  return { routePrefix, tenantHeader: tenantHeader === undefined ? null : tenantHeader.toLowerCase() }
}
