import { anonKeyError } from './errors.js'

/**
 * Runs one store operation, bounded in time. A store that fails or does not answer within `timeoutMs` becomes
 * STORE_UNAVAILABLE, never a hang behind a client library's own retry queue. The operation itself is not
 * cancelled: a write that times out may still land, which is why the error tells the caller to check.
 */
export function storeCall<T> (operation: string, timeoutMs: number, run: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(anonKeyError('STORE_UNAVAILABLE', `The key store did not answer ${operation} within ${timeoutMs} ms.`))
    }, timeoutMs)
    let pending: Promise<T>
    try {
      pending = run()
    } catch (error) {
      pending = Promise.reject(error)
    }
    pending.then((value) => {
      clearTimeout(timer)
      resolve(value)
    }, (error: unknown) => {
      clearTimeout(timer)
      reject(anonKeyError('STORE_UNAVAILABLE', `The key store failed during ${operation}.`, { cause: error }))
    })
  })
}
