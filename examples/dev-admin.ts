// What the runnable examples share when started from the command line: the admin JWT secret (never made up in
// production) and a short-lived development admin token to paste into curl. Not part of the plugin.
import { createSigner } from 'fast-jwt'
import type { FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'

export const production = process.env.NODE_ENV === 'production'

/** JWT_SECRET, or a fixed development secret outside production. Exits when production has none. */
export function jwtSecretFromEnv (): string {
  const secret = process.env.JWT_SECRET ?? (production ? undefined : 'development-secret-change-me')
  if (secret === undefined) {
    console.error('Set JWT_SECRET: in production the example will not make up a secret.')
    process.exit(1)
  }
  return secret
}

/** An admin token (role project_admin, valid 1 hour) for trying the routes; null in production. */
export function devAdminToken (secret: string, sub = 'dev-admin'): string | null {
  if (production) return null
  return createSigner({ key: secret, expiresIn: 60 * 60 * 1000 })({ role: 'project_admin', sub })
}

/** http://host:port of a listening app, with the port it really got (PORT=0 picks a free one). */
export function baseUrl (app: FastifyInstance): string {
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

/** The environment variable `name`, or `fallback` when it is not set. */
export function envOr (name: string, fallback: string): string {
  return process.env[name] ?? fallback
}

/** The port to listen on: PORT, or the example's own default (PORT=0 picks a free one). */
export function portFromEnv (fallback: number): number {
  return Number(envOr('PORT', String(fallback)))
}

/** Listens on 127.0.0.1 and answers the base URL. */
export async function listen (app: FastifyInstance, port: number): Promise<string> {
  await app.listen({ port, host: '127.0.0.1' })
  return baseUrl(app)
}

/** Closes the apps cleanly (pending store writes, subscriptions) on Ctrl-C or SIGTERM, then exits. */
export function closeOnSignals (...apps: FastifyInstance[]): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      Promise.all(apps.map((app) => app.close())).then(() => process.exit(0))
    })
  }
}
