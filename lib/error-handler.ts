import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { validationMessage } from './validation-message.js'
import { errorBody, isErrorCode, type ErrorBody, type ErrorCode } from './errors.js'

/**
 * Other 4xx errors, by status: Fastify's own (bad content type, body too large, bad length) and those thrown by
 * a host's `authorize` (401 for "not signed in", 403 for "not allowed").
 */
const CODES_BY_STATUS: Record<number, ErrorCode> = {
  400: 'INVALID_INPUT',
  401: 'AUTH_INVALID_CREDENTIALS',
  403: 'FORBIDDEN',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE'
}

const MESSAGES: Partial<Record<ErrorCode, string>> = {
  INVALID_INPUT: 'The request is not valid.',
  AUTH_INVALID_CREDENTIALS: 'Admin credentials are missing or invalid.',
  FORBIDDEN: 'This route is for project admins only.',
  PAYLOAD_TOO_LARGE: 'The body is larger than this route accepts.',
  UNSUPPORTED_MEDIA_TYPE: 'The body must be JSON (content-type: application/json), or absent.'
}

function fromValidation (error: FastifyError, request: FastifyRequest, maxGracePeriodHours: number): ErrorBody {
  const { message, nextActions } = validationMessage(error, request, maxGracePeriodHours)
  return { ...errorBody('INVALID_INPUT', message), nextActions }
}

/** Renders every error of the admin routes in the contract's format. A 500 never carries internals. */
export function createErrorHandler (maxGracePeriodHours: number) {
  return function anonKeyErrorHandler (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
    let body: ErrorBody
    if (error.validation !== undefined) {
      body = fromValidation(error, request, maxGracePeriodHours)
    } else if (isErrorCode(error.code)) {
      body = errorBody(error.code, error.message)
    } else if (error.statusCode !== undefined && Object.hasOwn(CODES_BY_STATUS, error.statusCode)) {
      const code = CODES_BY_STATUS[error.statusCode]
      body = errorBody(code, MESSAGES[code] as string)
    } else {
      body = errorBody('INTERNAL_ERROR', 'Something went wrong on the server.')
    }
    if (body.statusCode >= 500) request.log.error({ err: error }, 'anon key admin route failed')
    reply.code(body.statusCode).send(body)
  }
}
