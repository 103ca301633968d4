import fastifyJwt from '@fastify/jwt'
import Fastify from 'fastify'
import { usageError } from './cli-error.js'

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 }
const LONGEST_SECONDS = 30 * 86_400

/** `90`, `90s`, `15m`, `1h` or `7d` in seconds: from 1 s to 30 days. */
export function parseDuration (text: string): number {
  const match = /^([1-9][0-9]{0,7})([smhd]?)$/.exec(text)
  const seconds = match === null ? NaN : Number(match[1]) * UNIT_SECONDS[match[2] === '' ? 's' : match[2]]
  if (!(seconds <= LONGEST_SECONDS)) {
    throw usageError(`--expires-in must be a duration such as 90s, 15m, 1h or 7d, at most 30d; got ${JSON.stringify(text)}.`)
  }
  return seconds
}

/** Claims set by a flag of their own, which --claim must not set a second time. */
const FLAG_OF_CLAIM: Record<string, string> = { sub: '--sub', project: '--tenant', iat: '--expires-in', exp: '--expires-in' }

/**
 * The payload of a development admin token: `role: 'project_admin'`, `sub` (`cli` by default), `project` from
 * --tenant, and each `--claim key=value` as a string claim (`role=…` replaces the role). A claim given twice, or
 * one that a flag sets, is refused: the token would not say what the command line seems to.
 */
export function adminClaims ({ sub, tenant, claims }: { sub?: string, tenant: string | null, claims: string[] }): Record<string, string> {
  const payload: Record<string, string> = Object.create(null)
  const given = new Set<string>()
  const setByFlag: Record<string, boolean> = { sub: sub !== undefined, project: tenant !== null, iat: true, exp: true }
  for (const claim of claims) {
    const equals = claim.indexOf('=')
    const key = claim.slice(0, equals)
    if (equals < 1 || /\s/.test(key)) throw usageError(`--claim must be key=value, got ${JSON.stringify(claim)}.`, 'Write --claim project=acme (repeat it for several claims).')
    if (setByFlag[key] === true) throw usageError(`--claim ${key}= conflicts with ${FLAG_OF_CLAIM[key]}.`, `Set ${key} with ${FLAG_OF_CLAIM[key]} only.`)
    if (given.has(key)) throw usageError(`--claim ${key}= is given twice.`, 'Give each claim once.')
    given.add(key)
    payload[key] = claim.slice(equals + 1)
  }
  return { role: 'project_admin', sub: sub ?? 'cli', ...tenant === null ? {} : { project: tenant }, ...payload }
}

/**
 * A development admin token: an HS256 JWT of `claims`, signed with `secret`, expiring after `seconds`, made by
 * @fastify/jwt as the plugin's admin routes verify it with `jwt: { secret }`.
 */
export async function signAdminToken (secret: string, claims: Record<string, string>, seconds: number): Promise<{ token: string, expiresAt: string }> {
  const app = Fastify({ logger: false })
  await app.register(fastifyJwt, { secret })
  await app.ready()
  const issuedAt = Math.floor(Date.now() / 1000)
  const token = app.jwt.sign({ ...claims, iat: issuedAt, exp: issuedAt + seconds })
  await app.close()
  return { token, expiresAt: new Date((issuedAt + seconds) * 1000).toISOString() }
}
