import type { FastifyInstance, RouteOptions } from 'fastify'

/** The route hooks a guard such as verifyAnonKey is given to. */
const GUARD_HOOKS = ['onRequest', 'preParsing', 'preValidation', 'preHandler'] as const

/**
 * Warns at start-up of each route declared, after the plugin, with a hook option that is present but undefined
 * (`{ onRequest: guard }` where `guard` was read from `app.verifyAnonKey` before the plugin had registered, or in a
 * sibling context, or misspelt): Fastify serves such a route with no hook at all, so no key is checked. Routes
 * declared before the plugin, or in a context it does not reach, are out of its sight; the imported
 * `verifyAnonKey` closes the hole for them too.
 */
export function warnOfUndefinedGuards (app: FastifyInstance): void {
  const warned = new Set<string>()
  app.addHook('onRoute', (route: RouteOptions) => {
    const hooks = GUARD_HOOKS.filter((hook) => Object.hasOwn(route, hook) && route[hook] === undefined)
    // Fastify adds a HEAD route beside each GET, with the same options: one warning is enough.
    const method = route.method === 'HEAD' ? 'GET' : String(route.method)
    if (hooks.length === 0 || warned.has(`${method} ${route.url}`)) return
    warned.add(`${method} ${route.url}`)
    app.log.warn(`fastify-anon-key: route ${method} ${route.url} was declared with ${hooks.map((hook) => `${hook}: undefined`).join(', ')}, ` +
      'so Fastify serves it without that hook: if it was meant to be verifyAnonKey, no anon key is checked there. app.verifyAnonKey is ' +
      'undefined before the plugin has registered and in a sibling context; import { verifyAnonKey } from \'fastify-anon-key\' and pass that.')
  })
}
