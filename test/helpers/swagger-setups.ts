import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger'

/** @fastify/swagger's README registration: an openapi block with info, nothing else. */
export const SWAGGER_README_MINIMAL: FastifyDynamicSwaggerOptions = { openapi: { info: { title: 'Test swagger', version: '0.1.0' } } }

/** @fastify/swagger's README full example, with its apiKey scheme; `server` replaces its localhost:3000. */
export function swaggerReadmeFull (server = 'http://localhost:3000'): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      openapi: '3.0.0',
      info: { title: 'Test swagger', description: 'Testing the Fastify swagger API', version: '0.1.0' },
      servers: [{ url: server, description: 'Development server' }],
      tags: [{ name: 'user', description: 'User related end-points' }, { name: 'code', description: 'Code related end-points' }],
      components: { securitySchemes: { apiKey: { type: 'apiKey', name: 'apiKey', in: 'header' } } },
      externalDocs: { url: 'https://swagger.io', description: 'Find more info here' }
    }
  }
}
