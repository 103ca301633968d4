/**
 * Calls a host's key function the way @fastify/jwt does, `(request, decodedToken, callback)`, whichever form it
 * takes: it calls back, returns a promise, returns the key, or throws. Settles once, at most `timeoutMs` later:
 * a key lookup that never answers (a JWKS endpoint that hangs) refuses the token instead of holding the request.
 * Every failure becomes a rejection of the returned promise, so nothing is left unhandled.
 */
export function callKeyFunction (
  keyFunction: (...args: any[]) => unknown,
  request: unknown,
  decodedToken: unknown,
  timeoutMs: number
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let settled = false
    const settle = (error: unknown, key?: unknown): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (error !== null && error !== undefined) reject(error)
      else resolve(key)
    }
    const timer = setTimeout(() => { settle(new Error(`the key function did not answer within ${timeoutMs} ms`)) }, timeoutMs)
    try {
      const returned = keyFunction(request, decodedToken, settle) as any
      if (typeof returned?.then === 'function') {
        returned.then((key: unknown) => { settle(null, key) }, (error: unknown) => { settle(error ?? new Error('the key function rejected')) })
      } else if (returned !== undefined) {
        settle(null, returned)
      }
    } catch (error) {
      settle(error ?? new Error('the key function threw'))
    }
  })
}
