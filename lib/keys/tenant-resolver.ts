/** Whether a `tenant` resolver answered with a promise (an async resolver that passed ready(), or one that returns one). */
export function isPromiseLike (value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
}

/**
 * The error that names a resolver that answered with a promise, for the log: a host's mistake, answered 500, never
 * a silent 401 or 404. The promise is never awaited (the resolver must be synchronous); a rejection of it is
 * caught here so that it cannot crash the process.
 */
export function promiseFromResolver (resolver: (...args: any[]) => unknown, answer: PromiseLike<unknown>): Error {
  Promise.resolve(answer).catch(() => {})
  const name = resolver.name === '' ? '' : ` (${resolver.name})`
  return new Error(`fastify-anon-key: the tenant resolver${name}, option "tenant", returned a promise instead of the tenant id, ` +
    'so the request was refused with 500. Make it synchronous: (request) => request.headers[\'x-project-id\']; if finding the id needs I/O, ' +
    'do it in an onRequest hook registered before verifyAnonKey and return the id it kept on the request.')
}
