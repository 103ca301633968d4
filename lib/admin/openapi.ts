import { absentBodyAsEmptyObject } from './json-body.js'

/** The name the seed's routes give their security scheme. */
const SCHEME_NAME = 'bearerAuth'
/** The name used instead when the host declared a `bearerAuth` of another kind for its own routes. */
const FALLBACK_SCHEME_NAME = 'anonKeyAdminJwt'
// No angle brackets: Swagger UI renders the description as Markdown and would swallow a "<token>".
const DESCRIPTION = 'The admin JWT of fastify-anon-key, in the Authorization header after "Bearer ": a JWT whose payload isAdmin() accepts (default: role project_admin).'

const OPENAPI_SCHEME = { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: DESCRIPTION }
const SWAGGER2_SCHEME = { type: 'apiKey', in: 'header', name: 'Authorization', description: DESCRIPTION }

type Schemes = Record<string, { type?: string, scheme?: string } | undefined>

interface TransformInput {
  schema: Record<string, unknown> | undefined
  url: string
  route: { method: string | string[], preValidation?: unknown }
  openapiObject?: { components: { securitySchemes?: Schemes }, paths: Record<string, any> }
  swaggerObject?: { securityDefinitions?: Schemes }
}

const isHttpBearer = (scheme: NonNullable<Schemes[string]>): boolean => scheme.type === 'http' && String(scheme.scheme).toLowerCase() === 'bearer'

/**
 * How @fastify/swagger documents an admin route (its per-route `swaggerTransform`). The document then builds
 * however the host registered Swagger: the admin JWT scheme is declared in the document when the host did not
 * declare one (@fastify/swagger reads the scheme of every name a route's `security` gives, and crashed on a
 * missing one), a host's own `bearerAuth` of the http bearer kind is reused, and one of another kind keeps its
 * meaning for the host's routes while these name their own. The rotate body, which may be absent, is documented
 * `required: false` (@fastify/swagger marks every body required). A host's global `transform` is for its own
 * routes; these schemas are plain JSON Schema and need none.
 */
export function documentAdminRoute (
  { schema, url, route, openapiObject, swaggerObject }: TransformInput
): { schema: Record<string, unknown> | undefined, url: string } {
  if (openapiObject !== undefined) {
    const components = openapiObject.components
    const schemes = components.securitySchemes ?? {}
    const declared = schemes[SCHEME_NAME]
    const name = declared === undefined || isHttpBearer(declared) ? SCHEME_NAME : FALLBACK_SCHEME_NAME
    // Replaced, not mutated: the objects may be the host's own swagger options.
    if (schemes[name] === undefined) openapiObject.components = { ...components, securitySchemes: { ...schemes, [name]: OPENAPI_SCHEME } }
    if (takesNoBody(route)) documentBodyOptional(openapiObject, openapiPath(url), String(route.method).toLowerCase())
    return { schema: { ...schema, security: [{ [name]: [] }] }, url }
  }
  const definitions = (swaggerObject as NonNullable<TransformInput['swaggerObject']>).securityDefinitions ?? {}
  if (definitions[SCHEME_NAME] === undefined) {
    (swaggerObject as NonNullable<TransformInput['swaggerObject']>).securityDefinitions = { ...definitions, [SCHEME_NAME]: SWAGGER2_SCHEME }
  }
  return { schema, url }
}

/** The key under which @fastify/swagger files a route's path: `/keys/:name/rotate` becomes `/keys/{name}/rotate`. */
function openapiPath (url: string): string {
  return url.replace(/:(\w+)/g, '{$1}')
}

/** A route with a body schema that also takes no body at all (json-body.ts), such as rotate. */
function takesNoBody (route: TransformInput['route']): boolean {
  return [route.preValidation].flat().includes(absentBodyAsEmptyObject)
}

/**
 * @fastify/swagger builds the operation after this transform and stores it with `paths[url] = …`; catching that
 * one assignment is the only place to say that the body is optional. The accessor replaces itself with the plain
 * value at once. `paths` is copied first, since it may be the host's own object.
 */
function documentBodyOptional (openapiObject: NonNullable<TransformInput['openapiObject']>, url: string, method: string): void {
  const paths = { ...openapiObject.paths }
  openapiObject.paths = paths
  const before = paths[url]
  Object.defineProperty(paths, url, {
    configurable: true,
    enumerable: true,
    get: () => before,
    set (pathItem: Record<string, { requestBody: { required: boolean } }>) {
      pathItem[method].requestBody.required = false
      Object.defineProperty(paths, url, { configurable: true, enumerable: true, writable: true, value: pathItem })
    }
  })
}
