import Fastify from 'fastify'
import anonKey, { memoryStore, verifyAnonKey, type AnonKeyStore, type VerifyResult } from 'fastify-anon-key'

const store: AnonKeyStore = memoryStore()
const app = Fastify()
app.register(anonKey, { store, jwt: { secret: 'a-secret' } })
app.get('/data', { onRequest: app.verifyAnonKey }, async (request) => {
  const fingerprint: string | undefined = request.anonKey?.fingerprint
  return { fingerprint }
})
app.get('/awaited', {
  onRequest: async (request, reply) => { await verifyAnonKey(request, reply) }
}, async (request) => ({ expiresAt: request.anonKey?.expiresAt ?? null }))
export async function check (): Promise<VerifyResult> {
  const rotated = await app.anonKey.rotate({ gracePeriodHours: 1 })
  const expiresAt: string = rotated.oldKeyExpiresAt
  return app.anonKey.verify(expiresAt)
}
