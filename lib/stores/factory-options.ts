import { OptionError } from '../errors/option-errors.js'
import { unstorableTextProblem } from '../domain/text.js'

/**
 * Checks what a store factory was called with, so that a mistake fails at the call, naming the option and the
 * fix, instead of as `Cannot read properties of undefined` at start-up or later.
 */
export function checkStoreOptions (factory: string, options: unknown, known: readonly string[], example: string): Record<string, unknown> {
  if (options === null || typeof options !== 'object') {
    throw new OptionError.INVALID_STORE_OPTION(`fastify-anon-key: ${factory}() needs an options object, got ${options === undefined ? 'nothing' : JSON.stringify(options)}. Call ${example}.`)
  }
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) {
      throw new OptionError.INVALID_STORE_OPTION(`fastify-anon-key: ${factory}() has no option "${name}" (its options are ${known.join(', ')}). Call ${example}.`)
    }
  }
  return options as Record<string, unknown>
}

/** Refuses an option that lacks one of the methods the store calls on it. */
export function requireMethods (factory: string, option: string, value: unknown, methods: readonly string[], what: string, fix: string): void {
  const missing = methods.filter((method) => typeof (value as Record<string, unknown> | null | undefined)?.[method] !== 'function')
  if (missing.length > 0) {
    const got = value === undefined ? 'it is missing' : `it has no ${missing.map((method) => method + '()').join(', ')}`
    throw new OptionError.INVALID_STORE_OPTION(`fastify-anon-key: ${factory}() option "${option}" must be ${what}, and ${got}. ${fix}`)
  }
}

/** The `namespace` option of a store factory, checked: a string of 1 to 200 characters, 'default' when absent. */
export function namespaceOption (factory: string, value: unknown): string {
  const namespace = value ?? 'default'
  if (typeof namespace !== 'string' || namespace.length === 0 || namespace.length > 200) {
    throw new OptionError.INVALID_STORE_OPTION(`fastify-anon-key: ${factory}() option "namespace" must be a string of 1 to 200 characters, got ${JSON.stringify(namespace)}.`)
  }
  const problem = unstorableTextProblem('namespace', namespace)
  if (problem !== null) throw new OptionError.INVALID_STORE_OPTION(`fastify-anon-key: ${factory}() option "namespace" ${problem.slice('namespace '.length)} Pick a name without it.`)
  return namespace
}
