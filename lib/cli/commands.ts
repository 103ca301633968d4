import type { AnonKeyApi, AnonKeyProjectApi } from '../keys/api.js'
import type { RevokedEvent, RotatedEvent } from '../keys/events.js'
import type { RotateOptions } from '../keys/operations.js'
import type { AnonKeyInfo } from '../keys/key-info.js'
import { DEFAULT_KEY_NAME } from '../domain/names.js'
import { adminClaims, parseDuration, signAdminToken } from './admin-token.js'
import { CliError, EXIT, usageError } from './cli-error.js'
import { nameOf, tenantOf } from './flag-values.js'
import { describeLocation, noKeyAdvice, type StoreLocation } from './location.js'

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
   * instance that never listens, with `events` the plugin's audit events and `where` the store, namespace and
   * tenant it looks in, and closes it all.
   */
  withApi<T> (work: (api: AnonKeyProjectApi, events: AnonKeyApi, where: StoreLocation) => Promise<T>): Promise<T>
}

export interface CommandFlag {
  type: 'string' | 'boolean'
  /** Whether the flag may be given several times (its value is then a list). */
  multiple?: boolean
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

/** --name, for the commands that act on one key: `web`, `ios`, … (`default` when absent). */
const NAME_FLAG: Record<string, CommandFlag> = {
  name: { type: 'string', usage: '--name NAME', help: 'The named key to act on (fastify-anon-key keys lists them). Default: default.' }
}

/** "Nothing there", naming where the CLI looked: another store, namespace or tenant is the usual cause. */
function noKeyYet (where: StoreLocation): CliError {
  return new CliError('ANON_KEY_NOT_INITIALIZED', EXIT.REFUSED, `No anon key yet in ${describeLocation(where)}.`, noKeyAdvice(where))
}

/**
 * Resolves once the key `name` exists (`default` is checked by the operation itself, whose answer the API
 * defines); an unknown name is an error that says how to list the names.
 */
async function knownName (api: AnonKeyProjectApi, name: string, where: StoreLocation): Promise<void> {
  if (name === DEFAULT_KEY_NAME) return
  const names = (await api.listKeys()).map((key) => key.name)
  if (names.length === 0) throw noKeyYet(where)
  if (!names.includes(name)) {
    throw new CliError('NOT_FOUND', EXIT.REFUSED, `No anon key is named ${JSON.stringify(name)} in ${describeLocation(where)}; it has ${names.join(', ')}.`,
      'Pass one of those names to --name, or check --store, --namespace and --tenant.')
  }
}

const get: Command = {
  name: 'get',
  usage: 'get [--name NAME]',
  summary: 'Print the current anon key (of the key named, else of default).',
  flags: { ...NAME_FLAG },
  arguments: 0,
  store: true,
  async run ({ values, print, withApi }) {
    const name = nameOf(values.name)
    const anonKey = await withApi(async (api, events, where) => {
      await knownName(api, name, where)
      const found = name === DEFAULT_KEY_NAME ? await api.get() : (await api.getKey(name)).anonKey
      if (found === null) throw noKeyYet(where)
      return found
    })
    print(anonKey, { anonKey })
  }
}

const rotate: Command = {
  name: 'rotate',
  usage: 'rotate [--name NAME] [--grace-hours N] [--grace-starts-at rotation|first-use]',
  summary: 'Make a new current key; the old one keeps verifying for N hours (default 168; 0 stops it now).',
  flags: {
    ...NAME_FLAG,
    'grace-hours': { type: 'string', usage: '--grace-hours N', help: 'Hours the old key keeps verifying, from 0 to 720.' },
    'grace-starts-at': { type: 'string', usage: '--grace-starts-at rotation|first-use', help: 'first-use: the grace starts when any instance first verifies the new key (at the latest 720 hours after now).' }
  },
  arguments: 0,
  store: true,
  async run ({ values, print, withApi }) {
    const name = nameOf(values.name)
    const grace = values['grace-hours'] as string | undefined
    if (grace !== undefined && !/^[0-9]{1,6}$/.test(grace)) throw usageError(`--grace-hours must be a whole number of hours from 0 to 720, got ${JSON.stringify(grace)}.`)
    const startsAt = values['grace-starts-at'] as RotateOptions['graceStartsAt'] | undefined
    if (startsAt !== undefined && startsAt !== 'rotation' && startsAt !== 'first-use') throw usageError(`--grace-starts-at must be rotation or first-use, got ${JSON.stringify(startsAt)}.`)
    const { result, event } = await withApi(async (api, events, where) => {
      await knownName(api, name, where)
      let event: RotatedEvent | undefined
      events.once('rotated', (rotated: RotatedEvent) => { event = rotated })
      const result = await api.rotate({ name, ...grace === undefined ? {} : { gracePeriodHours: Number(grace) }, ...startsAt === undefined ? {} : { graceStartsAt: startsAt } }, { actor: 'cli' })
      return { result, event: event as RotatedEvent }
    })
    const old = event.gracePeriodHours === 0 ? `no longer verifies (since ${result.oldKeyExpiresAt})` : `verifies until ${result.oldKeyExpiresAt}`
    print(`${result.anonKey}\n${result.message}\nThe old key (fingerprint ${event.oldFingerprint}) ${old}.`, result)
  }
}

const list: Command = {
  name: 'list',
  usage: 'list [--name NAME]',
  summary: 'List the previous keys that still verify, by fingerprint (never a key).',
  flags: { ...NAME_FLAG },
  arguments: 0,
  store: true,
  async run ({ values, print, withApi }) {
    const name = nameOf(values.name)
    const previousKeys = await withApi(async (api, events, where) => {
      await knownName(api, name, where)
      return await api.listPrevious({ name })
    })
    const lines = previousKeys.map((key) => `${key.fingerprint}  rotated ${key.rotatedAt}  expires ${key.expiresAt}  ${key.requests} requests, last ${key.lastSeenAt ?? 'never'}`)
    print(lines.length === 0 ? 'No previous key verifies.' : lines.join('\n'), { previousKeys })
  }
}

const revoke: Command = {
  name: 'revoke',
  usage: 'revoke [--name NAME] <fingerprint> | --all',
  summary: 'Stop one previous key now, by fingerprint, or every previous key with --all.',
  flags: { ...NAME_FLAG, all: { type: 'boolean', usage: '--all', help: 'Revoke every previous key that still verifies.' } },
  arguments: 1,
  store: true,
  async run ({ positionals, values, print, withApi }) {
    const [fingerprint] = positionals
    if ((fingerprint === undefined) === (values.all !== true)) {
      throw usageError('revoke needs either a fingerprint or --all, not both.', 'Run fastify-anon-key list for the fingerprints, then fastify-anon-key revoke <fingerprint>, or revoke --all.')
    }
    const name = nameOf(values.name)
    const { result, event } = await withApi(async (api, events, where) => {
      await knownName(api, name, where)
      let event: RevokedEvent | undefined
      events.once('revoked', (revoked: RevokedEvent) => { event = revoked })
      const result = await api.revokePrevious({ name, fingerprint }, { actor: 'cli' })
      return { result, event: event as RevokedEvent }
    })
    print(result.revoked === 0 ? 'No previous key verified: nothing to revoke.' : `Revoked ${result.revoked}: ${event.fingerprints.join(', ')}`, result)
  }
}

const keys: Command = {
  name: 'keys',
  usage: 'keys',
  summary: 'List the named keys: name, fingerprint, allowed origins and apps, attestation, rate limit, description.',
  flags: {},
  arguments: 0,
  store: true,
  async run ({ print, withApi }) {
    const { anonKeys, where } = await withApi(async (api, events, where) => ({ anonKeys: await api.listKeys(), where }))
    const width = Math.max(0, ...anonKeys.map((key) => key.name.length))
    const lines = anonKeys.map((key) => [key.name.padEnd(width), key.fingerprint, restrictionsOf(key), key.description].join('  ').trimEnd())
    // With --json, what GET /api/secrets/anon-keys answers.
    print(lines.length === 0 ? `No anon key yet in ${describeLocation(where)}.` : lines.join('\n'), { anonKeys })
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
  usage: 'token [--sub ID] [--tenant ID] [--claim K=V]',
  summary: 'Sign a development admin JWT (role project_admin, HS256) with JWT_SECRET.',
  flags: {
    sub: { type: 'string', usage: '--sub ID', help: 'The token\'s subject, named as the actor in audit events. Default: cli.' },
    tenant: { type: 'string', usage: '--tenant ID', help: 'Adds the claim project: ID, an admin of that tenant for an isAdmin that compares payload.project.' },
    claim: { type: 'string', multiple: true, usage: '--claim K=V', help: 'Adds the claim K with the string V (repeatable); role=… replaces project_admin.' },
    'expires-in': { type: 'string', usage: '--expires-in D', help: 'Lifetime: 90s, 15m, 1h, 7d (at most 30d). Default: 1h.' }
  },
  arguments: 0,
  store: false,
  async run ({ values, env, print }) {
    const secret = env.JWT_SECRET
    if (secret === undefined || secret === '') {
      throw usageError('JWT_SECRET is not set.', 'Set JWT_SECRET to the secret your app verifies admin tokens with (its jwt.secret). It is read from the environment only, never from a flag, so it stays out of the shell history.')
    }
    const claims = adminClaims({
      sub: values.sub as string | undefined,
      tenant: tenantOf(values.tenant),
      claims: (values.claim as unknown as string[] | undefined) ?? []
    })
    const seconds = parseDuration((values['expires-in'] as string | undefined) ?? '1h')
    const signed = await signAdminToken(secret, claims, seconds)
    print(signed.token, signed)
  }
}

/** Every command, one entry each; --help lists them in this order. */
export const COMMANDS: Command[] = [get, rotate, list, revoke, keys, token]
