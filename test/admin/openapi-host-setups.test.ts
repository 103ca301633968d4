import swagger, { type FastifyDynamicSwaggerOptions } from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import SwaggerParser from '@apidevtools/swagger-parser'
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import anonKey from '../../lib/index.js'
import { JWT_SECRET } from '../helpers/app.js'
import { SWAGGER_README_MINIMAL, swaggerReadmeFull } from '../helpers/swagger-setups.js'

const GET_PATH = '/api/metadata/anon-key'
const ROTATE_PATH = '/api/secrets/anon-key/rotate'
const ADMIN_PATHS = [[GET_PATH, 'get'], [ROTATE_PATH, 'post'], ['/api/secrets/anon-key/previous', 'get'],
  ['/api/secrets/anon-key/previous', 'delete'], ['/api/secrets/anon-key/previous/{fingerprint}', 'delete']] as const

/** A host app: Swagger as given, the plugin, and a host route of its own using the host's scheme if any. */
async function hostApp (t: Test, swaggerOptions: FastifyDynamicSwaggerOptions, hostSecurity?: string) {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(swagger, swaggerOptions)
  await app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  app.get('/some-route/:id', {
    schema: {
      tags: ['user'],
      summary: 'a route of the host',
      ...(hostSecurity === undefined ? {} : { security: [{ [hostSecurity]: [] }] }),
      params: { type: 'object', properties: { id: { type: 'string' } } }
    }
  }, async () => ({ ok: true }))
  await app.ready()
  return app
}

function assertAdminRoutesNameTheAdminJwt (t: Test, doc: any, schemeName = 'bearerAuth'): void {
  const scheme = doc.components.securitySchemes[schemeName]
  t.match(scheme, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, `the document declares ${schemeName} as http bearer`)
  t.match(scheme.description, /admin JWT/, 'described as the admin JWT')
  for (const [path, method] of ADMIN_PATHS) {
    t.same(doc.paths[path][method].security, [{ [schemeName]: [] }], `${method.toUpperCase()} ${path} names ${schemeName}`)
  }
  t.equal(doc.paths[ROTATE_PATH].post.requestBody.required, false, 'the rotate body is documented optional')
  t.equal(doc.paths['/api/secrets/anon-keys/{name}/rotate'].post.requestBody.required, false, 'so is the named-key rotate body')
  t.ok(doc.paths[ROTATE_PATH].post.requestBody.content['application/json'].schema.properties.gracePeriodHours, 'and still documented')
}

t.test("with @fastify/swagger registered as its README's usage shows (just openapi.info), the document builds", async (t) => {
  const app = await hostApp(t, SWAGGER_README_MINIMAL)
  const doc = app.swagger() as any
  assertAdminRoutesNameTheAdminJwt(t, doc)
  t.same(Object.keys(doc.components.securitySchemes), ['bearerAuth'], 'only the scheme the routes name is added')
  t.match(app.swagger({ yaml: true }), /bearerAuth:\n\s+type: http\n\s+scheme: bearer/, 'the YAML document builds too')
})

t.test("with @fastify/swagger's full README example (an apiKey scheme), the document builds and the host's scheme keeps working", async (t) => {
  const options = swaggerReadmeFull()
  const app = await hostApp(t, options, 'apiKey')
  const doc = app.swagger() as any
  assertAdminRoutesNameTheAdminJwt(t, doc)
  t.same(doc.components.securitySchemes.apiKey, { type: 'apiKey', name: 'apiKey', in: 'header' }, "the host's scheme is still declared")
  t.same(doc.paths['/some-route/{id}'].get.security, [{ apiKey: [] }], "the host's route still names its scheme")
  t.same(Object.keys((options.openapi as any).components.securitySchemes), ['apiKey'], "the host's own options object is left as it was")
})

t.test("a host's own http bearer bearerAuth is reused, with its own description", async (t) => {
  const bearerAuth = { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'our tokens' } as const
  const app = await hostApp(t, { openapi: { info: { title: 't', version: '1' }, components: { securitySchemes: { bearerAuth } } } }, 'bearerAuth')
  const doc = app.swagger() as any
  t.same(doc.components.securitySchemes.bearerAuth, bearerAuth)
  t.same(doc.paths[GET_PATH].get.security, [{ bearerAuth: [] }])
  t.equal(doc.paths[ROTATE_PATH].post.requestBody.required, false)
})

t.test("a host's bearerAuth of another kind keeps its meaning for the host's routes; the admin routes name their own scheme", async (t) => {
  const bearerAuth = { type: 'apiKey', name: 'x-api-token', in: 'header' } as const
  const app = await hostApp(t, { openapi: { info: { title: 't', version: '1' }, components: { securitySchemes: { bearerAuth } } } }, 'bearerAuth')
  const doc = app.swagger() as any
  assertAdminRoutesNameTheAdminJwt(t, doc, 'anonKeyAdminJwt')
  t.same(doc.components.securitySchemes.bearerAuth, bearerAuth)
  t.same(doc.paths['/some-route/{id}'].get.security, [{ bearerAuth: [] }])
})

t.test("a host's global transform keeps working for its own routes", async (t) => {
  const seen: string[] = []
  const app = await hostApp(t, {
    ...SWAGGER_README_MINIMAL,
    transform: ({ schema, url }) => {
      seen.push(url)
      return { schema: { ...schema, summary: 'transformed by the host' } as typeof schema, url: url.replace('/some-route', '/renamed') }
    }
  })
  const doc = app.swagger() as any
  t.equal(doc.paths['/renamed/{id}'].get.summary, 'transformed by the host', "the host's route went through its transform")
  t.same(seen, ['/some-route/:id'], 'the admin routes are documented by the plugin, not handed to the host transform')
  assertAdminRoutesNameTheAdminJwt(t, doc)
})

t.test('in Swagger 2.0 mode with no securityDefinitions, the document builds and declares the admin scheme', async (t) => {
  const app = await hostApp(t, { swagger: { info: { title: 't', version: '1' } } })
  const doc = app.swagger() as any
  t.match(doc.securityDefinitions.bearerAuth, { type: 'apiKey', in: 'header', name: 'Authorization', description: /admin JWT/ })
  t.same(doc.paths[GET_PATH].get.security, [{ bearerAuth: [] }])
})

t.test('Swagger UI serves the document with the plugin registered', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(swagger, SWAGGER_README_MINIMAL)
  await app.register(swaggerUi, { routePrefix: '/documentation' })
  await app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  await app.ready()
  const response = await app.inject({ url: '/documentation/json' })
  t.equal(response.statusCode, 200, `Swagger UI's document: ${response.body.slice(0, 200)}`)
  t.equal(response.json().paths[ROTATE_PATH].post.requestBody.required, false)
})

t.test('each OpenAPI setup gives a document that an OpenAPI validator accepts, named-key routes included', async (t) => {
  const setups: Array<[string, FastifyDynamicSwaggerOptions, string?]> = [
    ["@fastify/swagger's README usage (just openapi.info)", SWAGGER_README_MINIMAL],
    ["@fastify/swagger's full README example", swaggerReadmeFull(), 'apiKey'],
    ["a host's bearerAuth of another kind", { openapi: { info: { title: 't', version: '1' }, components: { securitySchemes: { bearerAuth: { type: 'apiKey', name: 'x-api-token', in: 'header' } } } } }, 'bearerAuth']
  ]
  for (const [name, options, security] of setups) {
    const app = await hostApp(t, options, security)
    const doc = app.swagger() as any
    t.same(Object.values(doc.paths).filter((pathItem) => pathItem === undefined), [], `${name}: no path without its operations`)
    t.ok(doc.paths['/api/secrets/anon-keys/{name}/rotate'], `${name}: the named-key routes are documented`)
    // validate() dereferences in place: give it a copy.
    await t.resolves(SwaggerParser.validate(structuredClone(doc)), `${name}: the document is valid`)
  }
})
