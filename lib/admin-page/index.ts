import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify'
import fp from 'fastify-plugin'
import { ADMIN_PAGE_FACTS, type AdminPageFacts } from '../admin/page-facts.js'
import { OptionError } from '../errors/option-errors.js'
import { resolvePageOptions, type AnonKeyAdminPageOptions } from './options.js'
import { loadPageAssets, relativeApiBase, type PageAsset } from './page-assets.js'
import { PAGE_HEADERS } from './security-headers.js'

function factsOf (app: FastifyInstance): AdminPageFacts {
  const facts = (app as unknown as Record<symbol, AdminPageFacts | undefined>)[ADMIN_PAGE_FACTS]
  if (facts === undefined) {
    throw new OptionError.NOT_REGISTERED('fastify-anon-key/admin-page: fastify-anon-key is not registered in this context or a parent ' +
      'of it, and the page works through its admin routes. Register fastify-anon-key first, then the page: ' +
      'await app.register(fastifyAnonKey, options); await app.register(anonKeyAdminPage).')
  }
  return facts
}

/** Keeps the page's routes out of an OpenAPI document (typed loosely: the package does not require @fastify/swagger). */
const HIDDEN = { schema: { hide: true } as FastifySchema }

function send (request: FastifyRequest, reply: FastifyReply, asset: PageAsset): FastifyReply {
  reply.headers(PAGE_HEADERS).header('etag', asset.etag)
  if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send()
  return reply.type(asset.contentType).send(asset.body)
}

/**
 * The admin page: one HTML page, its script and its style sheet, served from the package under `routePrefix`.
 * It holds no secret and adds no other route: everything it shows and changes goes through the admin routes,
 * with the admin token the user signs in with.
 */
async function adminPagePlugin (app: FastifyInstance, options: AnonKeyAdminPageOptions): Promise<void> {
  const facts = factsOf(app)
  const { routePrefix, tenantHeader } = resolvePageOptions(options, facts)
  await app.register(async function anonKeyAdminPageRoutes (page) {
    const assets = await loadPageAssets({
      apiBase: relativeApiBase(page.prefix, facts.routesPrefix),
      tenantHeader: tenantHeader ?? '',
      defaultGraceHours: facts.defaultGracePeriodHours,
      maxGraceHours: facts.maxGracePeriodHours
    })
    const html = assets.get('') as PageAsset
    page.get('/', HIDDEN, async (request, reply) => {
      const path = request.url.split('?', 1)[0]
      // Relative addresses in the page resolve against its folder: `/anon-keys` goes to `/anon-keys/`.
      if (!path.endsWith('/')) return reply.redirect(`${path.slice(path.lastIndexOf('/') + 1)}/`)
      return send(request, reply, html)
    })
    for (const [path, asset] of assets) {
      if (path !== '') page.get(`/${path}`, HIDDEN, async (request, reply) => send(request, reply, asset))
    }
  }, { prefix: routePrefix })
}

/**
 * The admin page of fastify-anon-key, registered after the plugin:
 * `await app.register(anonKeyAdminPage, { routePrefix: '/anon-keys' })`.
 */
export const anonKeyAdminPage = fp(adminPagePlugin, { fastify: '5.x', name: 'fastify-anon-key-admin-page' })
export default anonKeyAdminPage
export type { AnonKeyAdminPageOptions } from './options.js'
