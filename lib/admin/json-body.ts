import type { FastifyInstance, FastifyRequest } from 'fastify'
import { anonKeyError } from '../errors/codes.js'
import { strictJsonProblem } from './strict-json.js'

/**
 * Makes JSON the only body these routes accept, and an empty body mean "no options": Fastify's default JSON
 * parser rejects an empty body sent as application/json. Duplicate properties and numbers such as 1e-400
 * are refused (see strict-json.ts). Any other content type answers 415. Called
 * inside the plugin's encapsulated context, so the host's own parsers are untouched.
 */
export function acceptJsonOrNothing (app: FastifyInstance, bodyLimit: number): void {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (request, body, done) => {
    const text = (body as string).trim()
    if (text === '') {
      done(null, undefined)
      return
    }
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      done(anonKeyError('INVALID_INPUT', 'The body is not valid JSON.', { nextActions: 'Send the body as valid JSON, or send no body.' }), undefined)
      return
    }
    const problem = strictJsonProblem(text, value)
    if (problem === null) done(null, value)
    else done(anonKeyError('INVALID_INPUT', problem, { nextActions: 'Send plain JSON: each property once, and whole numbers written without a fraction or an exponent.' }), undefined)
  })
}

/** Route hook: a request without a body is validated as `{}`. */
export async function absentBodyAsEmptyObject (request: FastifyRequest): Promise<void> {
  if (request.body === undefined) request.body = {}
}
