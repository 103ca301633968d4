import type { FastifyInstance } from 'fastify'
import { adminHeaders, internalsOf } from './app.js'

/** GET the usage route of `default` (no name) or of a named key. */
export async function usageRequest (app: FastifyInstance, name?: string, headers: Record<string, string> = adminHeaders()) {
  return app.inject({ url: name === undefined ? '/api/secrets/anon-key/usage' : `/api/secrets/anon-keys/${name}/usage`, headers })
}

/** The usage of `default` or of a named key; throws unless 200. */
export async function usageOf (app: FastifyInstance, name?: string): Promise<any> {
  const response = await usageRequest(app, name)
  if (response.statusCode !== 200) throw new Error(`the usage route answered ${response.statusCode} ${response.body}`)
  return response.json()
}

/** Hands every instance's counts to the store now, instead of waiting for usageFlushMs. */
export async function flush (...apps: FastifyInstance[]): Promise<void> {
  for (const app of apps) await internalsOf(app).flushUsage()
}
