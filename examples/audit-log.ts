// An audit log of every rotation and revocation, from the plugin's `rotated` and `revoked` events: who did it
// (the admin JWT's sub), when, the grace period and the keys' fingerprints. Events never carry a whole key, so
// the log is safe to ship anywhere. Run with: npx tsx examples/audit-log.ts (writes JSON lines to stdout).
import Fastify, { type FastifyInstance } from 'fastify'
import anonKey, { type RevokedEvent, type RotatedEvent } from '../lib/index.js'
import { closeOnSignals, devAdminToken, jwtSecretFromEnv, listen, portFromEnv } from './dev-admin.js'

export type AuditEntry =
  | ({ action: 'anon_key.rotated' } & RotatedEvent)
  | ({ action: 'anon_key.revoked' } & RevokedEvent)

/** Where entries go: a file, a queue, a table. Here a function, so the test can read them back. */
export type AuditSink = (entry: AuditEntry) => void

const writeJsonLine: AuditSink = (entry) => { process.stdout.write(JSON.stringify(entry) + '\n') }

export async function build (jwtSecret: string, sink: AuditSink = writeJsonLine): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(anonKey, { jwt: { secret: jwtSecret } })
  // The events fire for changes made in this process, through the routes or app.anonKey; with several
  // instances, each one logs the changes it made.
  app.anonKey.on('rotated', (event: RotatedEvent) => sink({ action: 'anon_key.rotated', ...event }))
  app.anonKey.on('revoked', (event: RevokedEvent) => sink({ action: 'anon_key.revoked', ...event }))
  return app
}

async function main (): Promise<void> {
  const jwtSecret = jwtSecretFromEnv()
  const app = await build(jwtSecret)
  const base = await listen(app, portFromEnv(3000))
  closeOnSignals(app)
  const token = devAdminToken(jwtSecret, 'alice')
  console.error(`audit-log example listening on ${base}; audit entries go to stdout`)
  if (token !== null) {
    console.error(`
  export TOKEN=${token}   # sub: alice
  curl -s -X POST ${base}/api/secrets/anon-key/rotate -H "Authorization: Bearer $TOKEN"
  curl -s -X DELETE ${base}/api/secrets/anon-key/previous -H "Authorization: Bearer $TOKEN"
`)
  }
}

if (require.main === module) main()
