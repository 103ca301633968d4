import { once } from 'node:events'
import type { FastifyInstance } from 'fastify'

/**
 * Verifies a rotated-in key once and waits for the write of its first use (the `firstUsed` event): the one store
 * write a key's first verification makes, on no later request. A count of store calls per verification starts
 * after it, as it would on a server that has served the key once.
 */
export async function firstUseWritten (app: FastifyInstance, key: string): Promise<void> {
  const written = once(app.anonKey, 'firstUsed')
  const verdict = await app.anonKey.verify(key)
  if (!verdict.valid) throw new Error(`the rotated-in key was refused: ${verdict.code}`)
  await written
}
