import SwaggerParser from '@apidevtools/swagger-parser'
import swagger from '@fastify/swagger'
import Fastify from 'fastify'
import t from 'tap'
import anonKey from '../../lib/index.js'
import { JWT_SECRET } from '../helpers/app.js'

const JSON_TYPE = 'application/json'

t.test('the usage routes are in the OpenAPI document: the bearer scheme, the answer\'s shape, the errors', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(swagger, { openapi: { openapi: '3.0.3', info: { title: 'test', version: '1.0.0' } } })
  await app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  await app.ready()
  const doc = app.swagger() as any
  await SwaggerParser.validate(structuredClone(doc))
  for (const path of ['/api/secrets/anon-key/usage', '/api/secrets/anon-keys/{name}/usage']) {
    const operation = doc.paths[path]?.get
    t.ok(operation, `${path} is documented`)
    t.same(operation.security, [{ bearerAuth: [] }], `${path} names the admin bearer scheme`)
    const schema = operation.responses['200'].content[JSON_TYPE].schema
    t.same(Object.keys(schema.properties).sort(), ['keys', 'name', 'refused'])
    t.same(Object.keys(schema.properties.keys.items.properties).sort(),
      ['expiresAt', 'fingerprint', 'graceStartsAt', 'hourly', 'lastUsedAt', 'requests24h', 'role', 'rotatedAt', 'safeToRevoke'])
    t.same(Object.keys(schema.properties.refused.items.properties).sort(), ['code', 'fingerprint', 'hour', 'requests'])
    t.match(operation.responses['501']?.description, /NOT_IMPLEMENTED: the key store keeps no usage history/, `${path} documents the 501 of a store without history`)
  }
  t.ok(doc.paths['/api/secrets/anon-keys/{name}/usage'].get.responses['404'], 'an unknown name is documented')
  const previous = doc.paths['/api/secrets/anon-key/previous'].get.responses['200'].content[JSON_TYPE].schema
  t.ok(previous.properties.previousKeys.items.properties.safeToRevoke, '/previous documents safeToRevoke')
  t.ok(previous.properties.previousKeys.items.properties.lastUsedAt, '/previous documents lastUsedAt')
})
