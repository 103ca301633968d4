/**
 * Calls a host's key function the way @fastify/jwt does, `(request, decodedToken, callback)`, whichever form it
 * takes: it calls back, returns a promise, returns the key, or throws. Settles once, at most `timeoutMs` later:
 * a key lookup that never answers (a JWKS endpoint that hangs) refuses the token instead of holding the request.
 * Every failure becomes a rejection of the returned promise, so nothing is left unhandled. A key that is not
 * usable (undefined, a number) is resolved as it is; the verifier then refuses the token.
 */
export function callKeyFunction (
  keyFunction: (...args: any[]) => unknown,
  request: unknown,
  decodedToken: unknown,
  timeoutMs: number
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let settled = false
    const once = (settle: () => void): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      settle()
    }
    const fail = (error: unknown): void => { once(() => { reject(error instanceof Error ? error : new Error(`the jwt key function failed with ${String(error)}`)) }) }
    const succeed = (key: unknown): void => { once(() => { resolve(key) }) }
    const timer = setTimeout(() => { fail(new Error(`the jwt key function did not answer within ${timeoutMs} ms`)) }, timeoutMs)
    const callback = (error: unknown, key?: unknown): void => {
      if (error === null || error === undefined) succeed(key)
      else fail(error)
    }
    try {
      const returned = keyFunction(request, decodedToken, callback) as any
      if (typeof returned?.then === 'function') returned.then(succeed, fail)
      else if (returned !== undefined) succeed(returned)
    } catch (error) {
      fail(error)
    }
  })
}
