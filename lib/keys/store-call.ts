import { anonKeyError } from '../errors/codes.js'

/**
 * Runs one store operation, bounded in time. A store that fails or does not answer within `timeoutMs` becomes
 * STORE_UNAVAILABLE, never a hang behind a client library's own retry queue. The operation itself is not
 * cancelled: a write that times out may still land, which is why the error tells the caller to check.
 *
 * `run` gets a signal aborted at the deadline. A store that knows why it is stuck (a connection that keeps
 * failing) may reject then with that reason: it becomes the timeout's cause, if it comes within one turn of the
 * event loop.
 */
export function storeCall<T> (operation: string, timeoutMs: number, run: (deadline: AbortSignal) => Promise<T>): Promise<T> {
  const deadline = new AbortController()
  const timedOut = (cause?: unknown): Error => anonKeyError('STORE_UNAVAILABLE', `The key store did not answer ${operation} within ${timeoutMs} ms.`, { cause })
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      deadline.abort()
      setImmediate(() => reject(timedOut()))
    }, timeoutMs)
    let pending: Promise<T>
    try {
      pending = run(deadline.signal)
    } catch (error) {
      pending = Promise.reject(error)
    }
    pending.then((value) => {
      clearTimeout(timer)
      resolve(value)
    }, (error: unknown) => {
      clearTimeout(timer)
      reject(deadline.signal.aborted ? timedOut(error) : anonKeyError('STORE_UNAVAILABLE', `The key store failed during ${operation}.`, { cause: error }))
    })
  })
}
