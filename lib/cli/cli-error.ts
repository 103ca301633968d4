/** The exit codes of `fastify-anon-key`, one per kind of outcome a script may want to tell apart. */
export const EXIT = {
  /** Done. */
  OK: 0,
  /** The store answered, and there is nothing to do it on: no key yet, no previous key with that fingerprint. */
  REFUSED: 1,
  /** The command line is wrong: an unknown command, flag or store scheme, a bad value, a missing setting. */
  USAGE: 2,
  /** The store is down or did not answer in time. */
  STORE_UNAVAILABLE: 3
} as const

export type ExitCode = typeof EXIT[keyof typeof EXIT]

/** A failure the CLI reports in one message and an exit code, never with a stack. */
export class CliError extends Error {
  readonly code: string
  readonly exitCode: ExitCode
  readonly nextActions: string

  constructor (code: string, exitCode: ExitCode, message: string, nextActions: string) {
    super(message)
    this.code = code
    this.exitCode = exitCode
    this.nextActions = nextActions
  }
}

/** A mistake on the command line: exit code 2, and what to type instead. */
export function usageError (message: string, nextActions = 'Run fastify-anon-key --help for the commands and options.'): CliError {
  return new CliError('INVALID_INPUT', EXIT.USAGE, message, nextActions)
}
