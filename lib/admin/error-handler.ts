import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { validationMessage } from './validation-message.js'
import { ERROR_CODES, errorBody, hostErrorCode, isErrorCode, type ErrorBody, type ErrorCode } from '../errors/codes.js'

/** Codes whose table message replaces the host's or Fastify's own wording, which speaks of neither the route nor the fix. */
const OWN_WORDING = new Set<ErrorCode>(['INVALID_INPUT', 'AUTH_INVALID_CREDENTIALS', 'FORBIDDEN', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'])

/** The HTTP status an error asks for (`statusCode`, or `status` as http-errors sets it), when it is 4xx or 5xx. */
function requestedStatus (error: FastifyError & { status?: unknown }): number | null {
  const status = error.statusCode ?? error.status
  return Number.isInteger(status) && (status as number) >= 400 && (status as number) <= 599 ? status as number : null
}

/**
 * An error that is not the plugin's own but asks for a status: the host's (a rate limit, a maintenance hook,
 * an authorize that throws) or Fastify's. It keeps its status, and its message unless that is a 500's.
 */
function fromStatus (error: FastifyError, status: number): ErrorBody {
  const code = hostErrorCode(status)
  const own = typeof error.message === 'string' && error.message !== '' ? error.message.slice(0, 200) : 'The server could not handle the request.'
  const message = status === 500 ? ERROR_CODES.INTERNAL_ERROR.message : OWN_WORDING.has(code) ? ERROR_CODES[code].message : own
  return { ...errorBody(code, message), statusCode: status }
}

function fromValidation (error: FastifyError, request: FastifyRequest, maxGracePeriodHours: number): ErrorBody {
  const { message, nextActions } = validationMessage(error, request, maxGracePeriodHours)
  return { ...errorBody('INVALID_INPUT', message), nextActions }
}

/**
 * Renders every error of the admin routes in the contract's format. A 500 never carries internals. Headers that
 * an error brings (`error.headers`, such as Retry-After) are kept, and every 401 names the Bearer scheme.
 */
export function createErrorHandler (maxGracePeriodHours: number) {
  return function anonKeyErrorHandler (
    error: FastifyError & { headers?: Record<string, string>, nextActions?: string },
    request: FastifyRequest,
    reply: FastifyReply
  ): void {
    let body: ErrorBody
    const status = requestedStatus(error)
    if (error.validation !== undefined) {
      body = fromValidation(error, request, maxGracePeriodHours)
    } else if (isErrorCode(error.code)) {
      body = errorBody(error.code, error.message)
      if (typeof error.nextActions === 'string') body.nextActions = error.nextActions
    } else if (status !== null) {
      body = fromStatus(error, status)
    } else {
      body = errorBody('INTERNAL_ERROR', ERROR_CODES.INTERNAL_ERROR.message)
    }
    if (error.headers !== null && typeof error.headers === 'object') reply.headers(error.headers)
    if (body.statusCode === 401 && !/^bearer\b/i.test(String(reply.getHeader('www-authenticate') ?? ''))) {
      reply.header('www-authenticate', 'Bearer')
    }
    if (body.error === 'INTERNAL_ERROR' || body.error === 'STORE_UNAVAILABLE') {
      request.log.error({ err: error }, 'anon key admin route failed')
    } else if (body.statusCode >= 500) {
      request.log.warn({ err: error }, `anon key admin route answered ${body.statusCode} for the host`)
    }
    reply.code(body.statusCode).send(body)
  }
}
