import swagger, { type FastifyDynamicSwaggerOptions } from '@fastify/swagger'
import Fastify from 'fastify'
import t from 'tap'
import anonKey, { type FastifyAnonKeyOptions } from '../../lib/index.js'
import { adminHeaders, JWT_SECRET } from '../helpers/app.js'
import { readSeed } from '../helpers/seed-openapi.js'

const GET_PATH = '/api/metadata/anon-key'
const ROTATE_PATH = '/api/secrets/anon-key/rotate'
const JSON_TYPE = 'application/json'

/** A host's own bearerAuth of the kind the plugin declares: the plugin's routes reuse it (see docs/openapi.md). */
const BEARER_AUTH = { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } as const

const seedGet = readSeed('000')
const seedRotate = readSeed('002')

async function documentedApp (
  t: { teardown: (fn: () => unknown) => void },
  options: FastifyAnonKeyOptions = {},
  swaggerOptions: FastifyDynamicSwaggerOptions = {}
) {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(swagger, {
    openapi: { openapi: '3.0.3', info: { title: 'test', version: '1.0.0' }, components: { securitySchemes: { bearerAuth: BEARER_AUTH } } },
    ...swaggerOptions
  })
  await app.register(anonKey, { jwt: { secret: JWT_SECRET }, ...options })
  await app.ready()
  return { app, doc: app.swagger() as any }
}

/** The schema a `#/components/schemas/…` reference points at. */
function resolve (doc: any, schema: any): any {
  if (schema?.$ref === undefined) return schema
  const name = /^#\/components\/schemas\/(.+)$/.exec(schema.$ref)?.[1]
  const target = name === undefined ? undefined : doc.components.schemas[name]
  if (target === undefined) throw new Error(`unresolved reference ${schema.$ref}`)
  return target
}

function jsonSchemaOf (doc: any, response: any): any {
  return resolve(doc, response.content[JSON_TYPE].schema)
}

/** Each property's type (and format), the facts the source documents state about a schema. */
function propertyTypes (schema: any): Record<string, { type: string, format?: string }> {
  return Object.fromEntries(Object.entries(schema.properties as Record<string, any>)
    .map(([name, property]) => [name, property.format === undefined ? { type: property.type } : { type: property.type, format: property.format }]))
}

function statusesOf (operation: any): string[] {
  return Object.keys(operation.responses).sort()
}

t.test('both source routes are documented under the same paths and methods, with the bearer security and tags of the source', async (t) => {
  const { doc } = await documentedApp(t)
  for (const [seed, path, method] of [[seedGet, GET_PATH, 'get'], [seedRotate, ROTATE_PATH, 'post']] as const) {
    const source = seed.paths[path][method]
    const operation = doc.paths[path]?.[method]
    t.ok(operation, `${method.toUpperCase()} ${path} is in the document`)
    t.same(operation.security, source.security, `${path} names the bearerAuth scheme, as the source does`)
    t.same(operation.tags, source.tags, `${path} is tagged like the source`)
    t.equal(operation.summary, source.summary, `${path} has the source's summary`)
  }
  t.same(doc.components.securitySchemes.bearerAuth, seedRotate.components.securitySchemes.bearerAuth,
    'the admin scheme is the one of the rotate source document')
})

t.test('GET /api/metadata/anon-key answers 200 with the source schema and example', async (t) => {
  const { doc } = await documentedApp(t)
  const source = seedGet.paths[GET_PATH].get.responses['200'].content[JSON_TYPE]
  const ours = doc.paths[GET_PATH].get.responses['200'].content[JSON_TYPE]
  t.equal(ours.schema.type, source.schema.type)
  t.same(propertyTypes(ours.schema), propertyTypes(source.schema), 'the same properties with the same types')
  t.same(ours.example, source.example, 'the same example key')
})

t.test('the rotate request body is the source body, and graceStartsAt: gracePeriodHours, an integer from 0 to 720, default 168', async (t) => {
  const { doc } = await documentedApp(t)
  const source = seedRotate.paths[ROTATE_PATH].post.requestBody.content[JSON_TYPE].schema
  const ours = doc.paths[ROTATE_PATH].post.requestBody.content[JSON_TYPE].schema
  t.equal(ours.type, source.type)
  t.same(Object.keys(ours.properties), [...Object.keys(source.properties), 'graceStartsAt'], 'the source\'s gracePeriodHours, and graceStartsAt')
  const { type, minimum, maximum, default: byDefault } = ours.properties.gracePeriodHours
  t.same({ type, minimum, maximum, default: byDefault }, {
    type: source.properties.gracePeriodHours.type,
    minimum: source.properties.gracePeriodHours.minimum,
    maximum: source.properties.gracePeriodHours.maximum,
    default: source.properties.gracePeriodHours.default
  })
  t.same([type, minimum, maximum, byDefault], ['integer', 0, 720, 168], 'and those are the values of the source document')
})

t.test('the rotate 200 answer has the source properties, formats and example', async (t) => {
  const { doc } = await documentedApp(t)
  const source = seedRotate.paths[ROTATE_PATH].post.responses['200'].content[JSON_TYPE]
  const ours = doc.paths[ROTATE_PATH].post.responses['200'].content[JSON_TYPE]
  t.same(propertyTypes(ours.schema), propertyTypes(source.schema), 'success, message, anonKey, oldKeyExpiresAt (date-time)')
  t.same(ours.example, source.example, 'the same example, with the message the contract names')
})

t.test('every error response of both routes refers to one error schema with the source fields', async (t) => {
  const { doc } = await documentedApp(t)
  const sourceError = seedRotate.components.schemas.ErrorResponse
  for (const [path, method] of [[GET_PATH, 'get'], [ROTATE_PATH, 'post']] as const) {
    const operation = doc.paths[path][method]
    for (const status of statusesOf(operation).filter((status) => status !== '200')) {
      const schema = jsonSchemaOf(doc, operation.responses[status])
      t.equal(schema.title, 'ErrorResponse', `${method.toUpperCase()} ${path} ${status} uses the error schema`)
      t.same(schema.required, sourceError.required, `${status}: error, message and statusCode are required`)
      t.same(propertyTypes(schema), propertyTypes(sourceError), `${status}: the same properties and types as the source error schema`)
      t.match(operation.responses[status].description, /^[A-Z_]+: /, `${status} is described by the error codes it can carry`)
    }
  }
  for (const [seed, path, method] of [[seedGet, GET_PATH, 'get'], [seedRotate, ROTATE_PATH, 'post']] as const) {
    const sourceStatuses = Object.keys(seed.paths[path][method].responses)
    const ours = statusesOf(doc.paths[path][method])
    t.same(sourceStatuses.filter((status) => !ours.includes(status)), [], `${path}: every status of the source is documented`)
  }
})

t.test('deliberate differences from the source documents, one by one', async (t) => {
  const { app, doc } = await documentedApp(t)
  const get = doc.paths[GET_PATH].get
  const rotate = doc.paths[ROTATE_PATH].post

  // 1. 401 answers: the source documents only 403 for a caller who is not an admin. The plugin tells a missing or
  //    invalid token (401 AUTH_INVALID_CREDENTIALS) apart from a valid token of a non-admin (403 FORBIDDEN).
  t.notOk('401' in seedGet.paths[GET_PATH].get.responses, 'the GET source has no 401')
  t.notOk('401' in seedRotate.paths[ROTATE_PATH].post.responses, 'the rotate source has no 401')
  t.match(get.responses['401'].description, /AUTH_INVALID_CREDENTIALS/)
  t.match(rotate.responses['401'].description, /AUTH_INVALID_CREDENTIALS/)

  // 2. `nextActions` (plural): the GET source names the field `nextAction`; the rotate source and the contract say `nextActions`.
  t.ok('nextAction' in seedGet.components.schemas.ErrorResponse.properties, 'the GET source says nextAction')
  t.ok('nextActions' in seedRotate.components.schemas.ErrorResponse.properties, 'the rotate source says nextActions')
  const errorSchema = jsonSchemaOf(doc, get.responses['403'])
  t.ok('nextActions' in errorSchema.properties, 'the plugin says nextActions')
  t.notOk('nextAction' in errorSchema.properties, 'and never nextAction')
  t.notOk(errorSchema.required.includes('nextActions'), 'nextActions stays optional, as in the source')

  // 3. More answers than the source documents: 404 on rotate (a store with no key), 413 and 415 on rotate (Fastify's
  //    own body failures, in the contract's format), 503 (the store did not answer in time) and 500 on both.
  t.same(statusesOf(get), ['200', '401', '403', '404', '500', '503'])
  t.same(statusesOf(rotate), ['200', '400', '401', '403', '404', '413', '415', '500', '503'])
  t.match(rotate.responses['404'].description, /ANON_KEY_NOT_INITIALIZED/)
  t.match(rotate.responses['413'].description, /PAYLOAD_TOO_LARGE/)
  t.match(rotate.responses['415'].description, /UNSUPPORTED_MEDIA_TYPE/)
  t.match(get.responses['503'].description, /STORE_UNAVAILABLE/)
  t.match(get.responses['500'].description, /INTERNAL_ERROR/)

  // 4. additionalProperties false on the body: a typo such as gracePeriodHour is refused, never a rotation with the default.
  t.equal(seedRotate.paths[ROTATE_PATH].post.requestBody.content[JSON_TYPE].schema.additionalProperties, undefined, 'the source allows any property')
  t.equal(rotate.requestBody.content[JSON_TYPE].schema.additionalProperties, false)

  // 5. The success fields are listed as required: the source lists none, the plugin always sends all of them.
  t.equal(seedGet.paths[GET_PATH].get.responses['200'].content[JSON_TYPE].schema.required, undefined)
  t.same(get.responses['200'].content[JSON_TYPE].schema.required, ['anonKey'])
  t.same(rotate.responses['200'].content[JSON_TYPE].schema.required, ['success', 'message', 'anonKey', 'oldKeyExpiresAt'])

  // 6. requestBody.required: no longer a difference. @fastify/swagger marks every body schema required (it assumes
  //    Fastify needs one); the plugin documents its route as the source does, and the route takes no body at all.
  t.equal(seedRotate.paths[ROTATE_PATH].post.requestBody.required, false)
  t.equal(rotate.requestBody.required, false, 'the body is documented optional, as in the source')
  t.match(rotate.requestBody.description, /^Optional/)
  const noBody = await app.inject({ method: 'POST', url: ROTATE_PATH, headers: adminHeaders() })
  t.equal(noBody.statusCode, 200, 'a rotation with no body at all succeeds')

  // 7. The error schema is a shared component named by @fastify/swagger (`def-N` unless the host names it, see the
  //    refResolver test below), not `ErrorResponse`; its title says ErrorResponse.
  t.match(get.responses['403'].content[JSON_TYPE].schema.$ref, /^#\/components\/schemas\/def-\d+$/)
})

t.test('a host refResolver can name the error component after its $id', async (t) => {
  const { doc } = await documentedApp(t, {}, {
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` }
  })
  t.equal(doc.paths[GET_PATH].get.responses['403'].content[JSON_TYPE].schema.$ref, '#/components/schemas/AnonKeyErrorResponse')
  t.ok(doc.components.schemas.AnonKeyErrorResponse.properties.nextActions)
})

t.test('the documented grace period limits and paths follow the options', async (t) => {
  const { doc } = await documentedApp(t, { maxGracePeriodHours: 48, defaultGracePeriodHours: 24, prefix: '/admin' })
  const { maximum, default: byDefault } = doc.paths['/admin/secrets/anon-key/rotate'].post.requestBody.content[JSON_TYPE].schema.properties.gracePeriodHours
  t.same({ maximum, default: byDefault }, { maximum: 48, default: 24 })
  t.ok(doc.paths['/admin/metadata/anon-key'].get, 'the GET route is documented under the prefix')
  t.notOk(doc.paths[GET_PATH], 'and not under /api')
})

t.test('what the routes send matches the documented schemas', async (t) => {
  const { app, doc } = await documentedApp(t)
  const errorSchema = jsonSchemaOf(doc, doc.paths[ROTATE_PATH].post.responses['400'])
  const answers = [
    await app.inject({ url: GET_PATH }),
    await app.inject({ url: GET_PATH, headers: adminHeaders({ role: 'user' }) }),
    await app.inject({ method: 'POST', url: ROTATE_PATH, headers: { ...adminHeaders(), 'content-type': JSON_TYPE }, payload: '{"gracePeriodHours":-1}' }),
    await app.inject({ method: 'POST', url: ROTATE_PATH, headers: { ...adminHeaders(), 'content-type': 'text/plain' }, payload: '24' }),
    await app.inject({ method: 'POST', url: ROTATE_PATH, headers: { ...adminHeaders(), 'content-type': JSON_TYPE }, payload: JSON.stringify({ pad: 'x'.repeat(4096) }) })
  ]
  t.same(answers.map((answer) => answer.statusCode), [401, 403, 400, 415, 413])
  for (const answer of answers) {
    const body = answer.json()
    const [path, method] = answer.statusCode === 401 || answer.statusCode === 403 ? [GET_PATH, 'get'] : [ROTATE_PATH, 'post']
    t.ok(String(answer.statusCode) in doc.paths[path][method].responses, `${answer.statusCode} is documented`)
    t.same(errorSchema.required.filter((field: string) => !(field in body)), [], `${answer.statusCode}: the required fields are present`)
    t.same(Object.keys(body).filter((field) => !(field in errorSchema.properties)), [], `${answer.statusCode}: no undocumented field`)
    t.equal(body.statusCode, answer.statusCode)
  }
  const ok = await app.inject({ method: 'POST', url: ROTATE_PATH, headers: { ...adminHeaders(), 'content-type': JSON_TYPE }, payload: '{"gracePeriodHours":1}' })
  const rotateSchema = doc.paths[ROTATE_PATH].post.responses['200'].content[JSON_TYPE].schema
  t.same(Object.keys(ok.json()).sort(), Object.keys(rotateSchema.properties).sort(), 'a rotation answers exactly the documented fields')
})

t.test('in Swagger 2.0 mode the routes are documented too, with a bearerAuth the host declared', async (t) => {
  const { doc } = await documentedApp(t, {}, {
    openapi: undefined,
    swagger: { info: { title: 'test', version: '1.0.0' }, securityDefinitions: { bearerAuth: { type: 'apiKey', name: 'Authorization', in: 'header' } } }
  })
  t.equal(doc.swagger, '2.0')
  t.same(doc.paths[GET_PATH].get.security, [{ bearerAuth: [] }])
  const body = doc.paths[ROTATE_PATH].post.parameters.find((parameter: any) => parameter.in === 'body')
  t.same(body.schema.properties.gracePeriodHours.maximum, 720)
  t.match(doc.paths[ROTATE_PATH].post.responses['415'].description, /UNSUPPORTED_MEDIA_TYPE/)
})
