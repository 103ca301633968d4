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

/**
 * A development admin token: an HS256 JWT `{ role: 'project_admin', sub }` signed with `secret`, expiring after
 * `seconds`, made by @fastify/jwt as the plugin's admin routes verify it with `jwt: { secret }`.
 */
export async function signAdminToken (secret: string, sub: string, seconds: number): Promise<{ token: string, expiresAt: string }> {
  const app = Fastify({ logger: false })
  await app.register(fastifyJwt, { secret })
  await app.ready()
  const issuedAt = Math.floor(Date.now() / 1000)
  const token = app.jwt.sign({ role: 'project_admin', sub, iat: issuedAt, exp: issuedAt + seconds })
  await app.close()
  return { token, expiresAt: new Date((issuedAt + seconds) * 1000).toISOString() }
}
