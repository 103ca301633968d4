/** The kinds of function that never answer at once, by their tag, and what they return instead. */
const NOT_AT_ONCE: Record<string, [string, string]> = {
  AsyncFunction: ['an async function', 'a promise'],
  AsyncGeneratorFunction: ['an async generator function', 'an async iterator'],
  GeneratorFunction: ['a generator function', 'an iterator']
}

/**
 * What is wrong with a `tenant` resolver that is a function, as [option, problem, fix], or null. The resolver runs
 * on every request before the key is judged and must answer at once: an async function (or a generator) returns
 * a promise (an iterator), never a tenant id, so every request would be refused. Pure.
 */
export function tenantResolverProblem (tenant: (...args: any[]) => unknown): [string, string, string] | null {
  const kind = NOT_AT_ONCE[Object.prototype.toString.call(tenant).slice(8, -1)]
  if (kind === undefined) return null
  return ['tenant', `is ${kind[0]}, so it returns ${kind[1]} instead of the tenant id`,
    'Make it synchronous: (request) => request.headers[\'x-project-id\']. If finding the id needs I/O, do it in an onRequest hook ' +
    'registered before verifyAnonKey, keep the id on the request, and return it from tenant(request).']
}
