import { parseArgs } from 'node:util'
import type { AnonKeyApi, AnonKeyProjectApi } from '../keys/api.js'
import { cliApp } from './cli-app.js'
import { CliError, EXIT, usageError, type ExitCode } from './cli-error.js'
import { COMMANDS, type Command, type CommandContext } from './commands.js'
import { tenantOf } from './flag-values.js'
import { helpText } from './help.js'
import { describeLocation, noKeyAdvice, type StoreLocation } from './location.js'
import { maskPasswords } from './mask-passwords.js'
import { openStore, type StoreSource } from './open-store.js'

export interface CliIO {
  stdout: { write (text: string): unknown }
  stderr: { write (text: string): unknown }
  env: Record<string, string | undefined>
}

/** Flags of every command that works on a store, and of every command. */
const STORE_FLAGS = { store: { type: 'string' }, namespace: { type: 'string' }, tenant: { type: 'string' } } as const
const OUTPUT_FLAGS = { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const

/** What each store error of the plugin means for someone at a terminal. */
const STORE_ERRORS: Record<string, { exitCode: ExitCode, nextActions: string }> = {
  STORE_UNAVAILABLE: {
    exitCode: EXIT.STORE_UNAVAILABLE,
    nextActions: 'Check that the store runs and that --store (or DATABASE_URL / REDIS_URL) points at it. A rotation that timed out may still have happened: check with fastify-anon-key get.'
  },
  INVALID_INPUT: { exitCode: EXIT.USAGE, nextActions: 'Run fastify-anon-key --help for the commands and options.' },
  // Its advice depends on whether a tenant was named: noKeyAdvice.
  ANON_KEY_NOT_INITIALIZED: { exitCode: EXIT.REFUSED, nextActions: '' },
  NOT_FOUND: { exitCode: EXIT.REFUSED, nextActions: 'Run fastify-anon-key list for the previous keys that still verify.' }
}

/**
 * `fastify-anon-key <command> [options]`: runs one command and resolves to its exit code. Every failure is
 * one message on stderr (a JSON document with --json) and an exit code; nothing is thrown.
 */
export async function runCli (argv: string[], io: CliIO): Promise<ExitCode> {
  // Known before parsing, so that a parse error is reported in the format asked for.
  const json = argv.includes('--json')
  try {
    return await dispatch(argv, io, json)
  } catch (error) {
    const failure = error instanceof CliError ? error : asCliError(error)
    // Whatever a message quotes (a store string the CLI was given, a driver's error), no password reaches stderr.
    const known = [...argv, io.env.DATABASE_URL ?? '', io.env.REDIS_URL ?? '']
    const message = maskPasswords(failure.message, known)
    const nextActions = maskPasswords(failure.nextActions, known)
    io.stderr.write(json
      ? JSON.stringify({ error: failure.code, message, nextActions }) + '\n'
      : `fastify-anon-key: ${message}\n${nextActions}\n`)
    return failure.exitCode
  }
}

async function dispatch (argv: string[], io: CliIO, json: boolean): Promise<ExitCode> {
  const commandFlags = Object.fromEntries(COMMANDS.flatMap((command) =>
    Object.entries(command.flags).map(([name, { type, multiple = false }]) => [name, { type, multiple }])))
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: { ...STORE_FLAGS, ...OUTPUT_FLAGS, ...commandFlags }, strict: true, allowPositionals: true, tokens: true })
  } catch (error) {
    throw usageError(`${(error as Error).message.replace(/\. To specify a positional.*$/, '')}.`.replace(/\.\.$/, '.'))
  }
  const values = parsed.values as Record<string, string | boolean | undefined>
  if (values.help === true) {
    io.stdout.write(helpText())
    return EXIT.OK
  }
  const [name, ...positionals] = parsed.positionals
  if (name === undefined) throw usageError('No command given.', `Run fastify-anon-key --help. Commands: ${COMMANDS.map((command) => command.name).join(', ')}.`)
  const command = COMMANDS.find((candidate) => candidate.name === name)
  if (command === undefined) throw usageError(`Unknown command "${name}".`, `Commands: ${COMMANDS.map((candidate) => candidate.name).join(', ')}. Run fastify-anon-key --help.`)
  for (const token of parsed.tokens) {
    if (token.kind === 'option' && !appliesTo(command, token.name)) throw usageError(`${token.rawName} does not apply to ${command.name}.`, `Usage: fastify-anon-key ${command.usage}`)
  }
  if (positionals.length > command.arguments) throw usageError(`Unexpected argument "${positionals[command.arguments]}" after ${command.name}.`, `Usage: fastify-anon-key ${command.usage}`)

  const context: CommandContext = {
    positionals,
    values,
    env: io.env,
    print (human, document) {
      io.stdout.write(json ? JSON.stringify(document) + '\n' : human + '\n')
    },
    withApi: (work) => onStore(storeSource(values.store as string | undefined, io.env), values.namespace as string | undefined, tenantOf(values.tenant), work)
  }
  await command.run(context)
  return EXIT.OK
}

function appliesTo (command: Command, flag: string): boolean {
  return flag in OUTPUT_FLAGS || flag in command.flags || (command.store && flag in STORE_FLAGS)
}

/** --store, else DATABASE_URL or REDIS_URL when only one is set. */
function storeSource (given: string | undefined, env: Record<string, string | undefined>): StoreSource {
  if (given !== undefined) return { text: given, from: '--store' }
  const candidates = (['DATABASE_URL', 'REDIS_URL'] as const).filter((name) => env[name] !== undefined && env[name] !== '')
  if (candidates.length === 1) return { text: env[candidates[0]] as string, from: candidates[0] }
  if (candidates.length === 0) throw usageError('No store given.', 'Pass --store postgres://…, redis://… or sqlite:<path> (the store your app uses), or set DATABASE_URL or REDIS_URL.')
  throw usageError('Both DATABASE_URL and REDIS_URL are set, and either could hold the keys.', 'Say which store your app uses with --store.')
}

/**
 * Runs `work` on the API of the tenant given, or of the one project, of the CLI's plugin instance on the store, and
 * closes the app, the store and its connections, whatever happens.
 */
async function onStore<T> (
  source: StoreSource,
  namespace: string | undefined,
  tenant: string | null,
  work: (api: AnonKeyProjectApi, events: AnonKeyApi, where: StoreLocation) => Promise<T>
): Promise<T> {
  const opened = await openStore(source, namespace)
  const where = { shown: opened.shown, namespace: opened.store.namespace, tenant }
  const app = cliApp(opened.store, tenant)
  const outcome = await app.ready()
    .then(() => work(tenant === null ? app.anonKey : app.anonKey.forTenant(tenant), app.anonKey, where))
    .then((value) => ({ value }), (error: unknown) => ({ error }))
  await app.close()
  await opened.close()
  if ('error' in outcome) throw storeFailure(outcome.error, where)
  return outcome.value
}

/**
 * A failure of the plugin on the store, named with the store it happened on; "nothing there" names the namespace
 * and tenant looked in too, the usual cause being another one.
 */
export function storeFailure (error: unknown, where: StoreLocation): unknown {
  const code = String((error as { code?: unknown }).code)
  const known = STORE_ERRORS[code]
  if (known === undefined || error instanceof CliError) return error
  const message = (error as Error).message.replace('gracePeriodHours', '--grace-hours')
  if (code === 'INVALID_INPUT') return new CliError(code, known.exitCode, message, known.nextActions)
  if (code !== 'STORE_UNAVAILABLE') {
    const nextActions = code === 'ANON_KEY_NOT_INITIALIZED' ? noKeyAdvice(where) : known.nextActions
    return new CliError(code, known.exitCode, `${message.replace(/\.$/, '')} (looked in ${describeLocation(where)}).`, nextActions)
  }
  // At a terminal the store's own error helps (connection refused, authentication failed); the plugin keeps it as the
  // cause, and at start-up has already put it in the message.
  const causeText = (error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : ''
  const cause = causeText === '' || message.includes(causeText) ? '' : ` (${causeText})`
  return new CliError(code, known.exitCode, `${message.replace(/\.$/, '')}${cause}; store: ${where.shown}.`, known.nextActions)
}

function asCliError (error: unknown): CliError {
  return new CliError('INTERNAL_ERROR', EXIT.REFUSED, `unexpected failure: ${String(error)}`, 'Please report it with the command you ran (without secrets).')
}
