import createError from '@fastify/error'

/**
 * The errors of a user's set-up mistakes (a bad option, a store built without what it needs, a second
 * registration), thrown before anything runs. Each has a stable `FST_ANON_KEY_*` code a host can match on, and a
 * message that names the option and the fix. They are TypeErrors, as a wrong argument is.
 */
export const OptionError = {
  /** An option of the plugin with a value it cannot use. */
  INVALID_OPTION: createError<[string]>('FST_ANON_KEY_INVALID_OPTION', '%s', undefined, TypeError),
  /** An option the plugin does not know (a typo, or one of a store's options given to the plugin). */
  UNKNOWN_OPTION: createError<[string]>('FST_ANON_KEY_UNKNOWN_OPTION', '%s', undefined, TypeError),
  /** A store factory (memoryStore, postgresStore, redisStore) called without what it needs. */
  INVALID_STORE_OPTION: createError<[string]>('FST_ANON_KEY_INVALID_STORE_OPTION', '%s', undefined, TypeError),
  /** The plugin registered a second time in a context that already has it. */
  ALREADY_REGISTERED: createError<[string]>('FST_ANON_KEY_ALREADY_REGISTERED', '%s'),
  /** A plugin that needs fastify-anon-key (the admin page) registered where fastify-anon-key is not. */
  NOT_REGISTERED: createError<[string]>('FST_ANON_KEY_NOT_REGISTERED', '%s')
} as const

/** Every `FST_ANON_KEY_*` code, for hosts that match on them. */
export type OptionErrorCode = 'FST_ANON_KEY_INVALID_OPTION' | 'FST_ANON_KEY_UNKNOWN_OPTION' | 'FST_ANON_KEY_INVALID_STORE_OPTION' | 'FST_ANON_KEY_ALREADY_REGISTERED' |
  'FST_ANON_KEY_NOT_REGISTERED'
