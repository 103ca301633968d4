import type { AnonKeyApi, AnonKeyProjectApi } from '../keys/api.js'
import type { RevokedEvent, RotatedEvent } from '../keys/events.js'
import type { RotateOptions } from '../keys/operations.js'
import type { AnonKeyInfo } from '../keys/key-info.js'
import { parseDuration, signAdminToken } from './admin-token.js'
import { CliError, EXIT, usageError } from './cli-error.js'

/** What a command gets: its arguments, the output, and (for store commands) the plugin's API on the store. */
export interface CommandContext {
  /** Arguments after the command name. */
  positionals: string[]
  /** Flags given, by name. */
  values: Record<string, string | boolean | undefined>
  env: Record<string, string | undefined>
  /** Prints a result: `human` as lines of text, or `json` as one JSON document with --json. */
  print (human: string, json: unknown): void
  /**
   * Opens the store, runs `work` on the API of the project named (--tenant, else the one project) of a plugin
   * instance that never listens, with `events` the plugin's audit events, and closes it all.
   */
  withApi<T> (work: (api: AnonKeyProjectApi, events: AnonKeyApi) => Promise<T>): Promise<T>
}

export interface CommandFlag {
  type: 'string' | 'boolean'
  /** For --help: `--grace-hours N`. */
  usage: string
  help: string
}

export interface Command {
  name: string
  /** For --help: the command and its arguments. */
  usage: string
  summary: string
  /** Flags of this command only; the store and output flags apply to every command that uses a store. */
  flags: Record<string, CommandFlag>
  /** How many arguments may follow the command name. */
  arguments: number
  /** Whether it works on a store (--store, --namespace, --tenant). */
  store: boolean
  run (context: CommandContext): Promise<void>
}

const get: Command = {
  name: 'get',
  usage: 'get',
  summary: 'Print the current anon key.',
  flags: {},
  arguments: 0,
  store: true,
  async run ({ values, print, withApi }) {
    const anonKey = await withApi((api) => api.get())
    if (anonKey === null && values.tenant !== undefined) {
      throw new CliError('ANON_KEY_NOT_INITIALIZED', EXIT.REFUSED, `Tenant ${JSON.stringify(values.tenant)} has no anon key in this namespace yet.`,
        'The app creates a tenant\'s key on its first admin request for it (or app.anonKey.forTenant(id).initialize()); else check --tenant, --store and --namespace.')
    }
    if (anonKey === null) {
      throw new CliError('ANON_KEY_NOT_INITIALIZED', EXIT.REFUSED, 'The store holds no anon key in this namespace yet.',
        'Start the app once (it creates the key on start-up), or check --store and --namespace.')
    }
    print(anonKey, { anonKey })
  }
}

const rotate: Command = {
  name: 'rotate',
  usage: 'rotate [--grace-hours N] [--grace-starts-at rotation|first-use]',
  summary: 'Make a new current key; the old one keeps verifying for N hours (default 168; 0 stops it now).',
  flags: {
    'grace-hours': { type: 'string', usage: '--grace-hours N', help: 'Hours the old key keeps verifying, from 0 to 720.' },
    'grace-starts-at': { type: 'string', usage: '--grace-starts-at rotation|first-use', help: 'first-use: the grace starts when any instance first verifies the new key (at the latest 720 hours after now).' }
  },
  arguments: 0,
  store: true,
  async run ({ values, print, withApi }) {
    const grace = values['grace-hours'] as string | undefined
    if (grace !== undefined && !/^[0-9]{1,6}$/.test(grace)) throw usageError(`--grace-hours must be a whole number of hours from 0 to 720, got ${JSON.stringify(grace)}.`)
    const startsAt = values['grace-starts-at'] as RotateOptions['graceStartsAt'] | undefined
    if (startsAt !== undefined && startsAt !== 'rotation' && startsAt !== 'first-use') throw usageError(`--grace-starts-at must be rotation or first-use, got ${JSON.stringify(startsAt)}.`)
    const { result, event } = await withApi(async (api, events) => {
      let event: RotatedEvent | undefined
      events.once('rotated', (rotated: RotatedEvent) => { event = rotated })
      const result = await api.rotate({ ...(grace === undefined ? {} : { gracePeriodHours: Number(grace) }), ...(startsAt === undefined ? {} : { graceStartsAt: startsAt }) }, { actor: 'cli' })
      return { result, event: event as RotatedEvent }
    })
    print(`${result.anonKey}\n${result.message}\nThe old key (fingerprint ${event.oldFingerprint}) verifies until ${result.oldKeyExpiresAt}.`, result)
  }
}

const list: Command = {
  name: 'list',
  usage: 'list',
  summary: 'List the previous keys that still verify, by fingerprint (never a key).',
  flags: {},
  arguments: 0,
  store: true,
  async run ({ print, withApi }) {
    const previousKeys = await withApi((api) => api.listPrevious())
    const lines = previousKeys.map((key) => `${key.fingerprint}  rotated ${key.rotatedAt}  expires ${key.expiresAt}  ${key.requests} requests, last ${key.lastSeenAt ?? 'never'}`)
    print(lines.length === 0 ? 'No previous key verifies.' : lines.join('\n'), { previousKeys })
  }
}

const revoke: Command = {
  name: 'revoke',
  usage: 'revoke <fingerprint> | --all',
  summary: 'Stop one previous key now, by fingerprint, or every previous key with --all.',
  flags: { all: { type: 'boolean', usage: '--all', help: 'Revoke every previous key that still verifies.' } },
  arguments: 1,
  store: true,
  async run ({ positionals, values, print, withApi }) {
    const [fingerprint] = positionals
    if ((fingerprint === undefined) === (values.all !== true)) {
      throw usageError('revoke needs either a fingerprint or --all, not both.', 'Run fastify-anon-key list for the fingerprints, then fastify-anon-key revoke <fingerprint>, or revoke --all.')
    }
    const { result, event } = await withApi(async (api, events) => {
      let event: RevokedEvent | undefined
      events.once('revoked', (revoked: RevokedEvent) => { event = revoked })
      const result = await api.revokePrevious(fingerprint, { actor: 'cli' })
      return { result, event: event as RevokedEvent }
    })
    print(result.revoked === 0 ? 'No previous key verified: nothing to revoke.' : `Revoked ${result.revoked}: ${event.fingerprints.join(', ')}`, result)
  }
}

const keys: Command = {
  name: 'keys',
  usage: 'keys',
  summary: 'List the named keys: name, fingerprint, allowed origins and apps, attestation, rate limit, description (never a previous key).',
  flags: {},
  arguments: 0,
  store: true,
  async run ({ print, withApi }) {
    const named = (await withApi((api) => api.listKeys()))
      .map(({ name, fingerprint, description, allowedOrigins, allowedApps, requireAttestation, rateLimit, createdAt }) =>
        ({ name, fingerprint, description, allowedOrigins, allowedApps, requireAttestation, rateLimit, createdAt }))
    const width = Math.max(0, ...named.map((key) => key.name.length))
    const lines = named.map((key) => [key.name.padEnd(width), key.fingerprint, restrictionsOf(key), key.description].join('  ').trimEnd())
    print(lines.length === 0 ? 'The store holds no anon key in this namespace yet.' : lines.join('\n'), { keys: named })
  }
}

/** What a key asks of its clients, on one line: origins and apps (or "any origin"), attestation, rate limit. */
function restrictionsOf (key: Pick<AnonKeyInfo, 'allowedOrigins' | 'allowedApps' | 'requireAttestation' | 'rateLimit'>): string {
  const apps = key.allowedApps === null
    ? []
    : [...(key.allowedApps.android ?? []).map((app) => `android:${app.packageName}`), ...(key.allowedApps.ios ?? []).map((bundle) => `ios:${bundle}`)]
  const where = [...(key.allowedOrigins ?? []), ...apps]
  return [
    where.length === 0 ? 'any origin' : where.join(','),
    key.requireAttestation ? 'attestation' : '',
    key.rateLimit === null ? '' : `${key.rateLimit.max} per ${key.rateLimit.timeWindowMs} ms`
  ].filter((part) => part !== '').join('  ')
}

const token: Command = {
  name: 'token',
  usage: 'token [--sub ID] [--expires-in 1h]',
  summary: 'Sign a development admin JWT (role project_admin, HS256) with JWT_SECRET.',
  flags: {
    sub: { type: 'string', usage: '--sub ID', help: 'The token\'s subject, named as the actor in audit events. Default: cli.' },
    'expires-in': { type: 'string', usage: '--expires-in D', help: 'Lifetime: 90s, 15m, 1h, 7d (at most 30d). Default: 1h.' }
  },
  arguments: 0,
  store: false,
  async run ({ values, env, print }) {
    const secret = env.JWT_SECRET
    if (secret === undefined || secret === '') {
      throw usageError('JWT_SECRET is not set.', 'Set JWT_SECRET to the secret your app verifies admin tokens with (its jwt.secret). It is read from the environment only, never from a flag, so it stays out of the shell history.')
    }
    const sub = (values.sub as string | undefined) ?? 'cli'
    const seconds = parseDuration((values['expires-in'] as string | undefined) ?? '1h')
    const signed = await signAdminToken(secret, sub, seconds)
    print(signed.token, signed)
  }
}

/** Every command, one entry each; --help lists them in this order. */
export const COMMANDS: Command[] = [get, rotate, list, revoke, keys, token]
