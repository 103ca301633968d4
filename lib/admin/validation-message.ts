import type { FastifyError, FastifyRequest } from 'fastify'
import { FINGERPRINT_LENGTH } from '../domain/key.js'
import { MAX_ALLOWED_ORIGINS } from '../domain/origins.js'
import { ROTATE_BODY_ADVICE } from '../errors/codes.js'
import { MAX_DESCRIPTION_LENGTH } from '../domain/names.js'
import { ALLOWED_APPS_SHAPE, MAX_ALLOWED_APPS } from '../domain/apps.js'
import { RATE_LIMIT_SHAPE } from '../domain/rate-limit.js'

/** What a validation failure tells the client: what is wrong, and what to do. */
export interface ValidationMessage {
  message: string
  nextActions: string
}

const NAME_RULE = 'a lowercase letter, then up to 31 lowercase letters, digits, "_" or "-" (web, ios, android)'
const KEYS_NEXT = 'List the keys with GET /api/secrets/anon-keys; fix the request as the message says.'
const FINGERPRINT_NEXT = 'Copy the fingerprint from the list of previous keys (GET /api/secrets/anon-key/previous).'

const BODY_PROPERTIES: Record<string, (maxGracePeriodHours: number) => string> = {
  gracePeriodHours: (max) => `gracePeriodHours must be an integer from 0 to ${max}`,
  graceStartsAt: () => 'graceStartsAt must be "rotation" or "first-use"',
  name: () => `name is required and must be ${NAME_RULE}.`,
  description: () => `description must be a string of at most ${MAX_DESCRIPTION_LENGTH} characters.`,
  allowedOrigins: () => `allowedOrigins must be null or an array of 1 to ${MAX_ALLOWED_ORIGINS} origins such as "https://app.example.com".`,
  allowedApps: () => `${ALLOWED_APPS_SHAPE}, each list holding 1 to ${MAX_ALLOWED_APPS} apps.`,
  requireAttestation: () => 'requireAttestation must be true or false.',
  rateLimit: () => `rateLimit ${RATE_LIMIT_SHAPE}.`
}

/**
 * The message for a request that failed its route's schema, naming what is wrong: a path parameter, a property
 * of the body (or one it does not accept), or the body as a whole. Only called when Fastify set `validation`.
 */
export function validationMessage (error: FastifyError, request: FastifyRequest, maxGracePeriodHours: number): ValidationMessage {
  const path = (error.validation as NonNullable<FastifyError['validation']>)[0].instancePath
  if (error.validationContext === 'params') {
    if (path === '/name') return { message: `The key name in the path must be ${NAME_RULE}.`, nextActions: KEYS_NEXT }
    return { message: `fingerprint must be ${FINGERPRINT_LENGTH} lowercase hex characters.`, nextActions: FINGERPRINT_NEXT }
  }
  // A body failed validation, so the route has a body schema, and every body schema here is an object's.
  const schema = (request.routeOptions.schema as { body: { properties: Record<string, unknown> } }).body
  const accepted = Object.keys(schema.properties)
  const rotates = accepted.includes('gracePeriodHours')
  const nextActions = rotates ? ROTATE_BODY_ADVICE : KEYS_NEXT
  const property = path.split('/')[1] ?? ''
  if (property !== '' && accepted.includes(property)) {
    return { message: BODY_PROPERTIES[property](maxGracePeriodHours), nextActions }
  }
  if (property !== '') {
    return { message: `Unknown property "${property.slice(0, 64)}": the body accepts only ${accepted.join(', ')}.`, nextActions }
  }
  if (rotates) return { message: 'The body must be empty or a JSON object such as {"gracePeriodHours": 24}.', nextActions }
  if (!accepted.includes('name')) return { message: `The body must be a JSON object with at least one of ${accepted.join(', ')}.`, nextActions }
  return { message: 'The body must be a JSON object such as {"name": "web"}.', nextActions }
}
