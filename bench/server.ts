import type { FastifyInstance } from 'fastify'
import { Session } from 'node:inspector/promises'
import { anonKeyApp, bareApp, bearerAuthApp, noopHookApp, someKey } from './apps.js'
import { serve } from './child.js'
import { countingStore, type CountingStore } from '../test/helpers/counting-store.js'
import { shares, type Profile } from './profile.js'
import { backend, uniqueNamespace, type Connection, type StoreKind } from './stores.js'

/**
 * Child process: one HTTP server for one variant of the route, on loopback, driven by run.ts over IPC.
 * Variants: bare, noop-hook, bearer-auth, anon-<store kind>.
 */
async function main (): Promise<void> {
  const variant = process.argv[2]
  let app: FastifyInstance
  let key = someKey()
  let counting: CountingStore | null = null
  let connection: Connection | null = null
  if (variant === 'bare') {
    app = bareApp()
  } else if (variant === 'noop-hook') {
    app = noopHookApp()
  } else if (variant === 'bearer-auth') {
    app = bearerAuthApp(key)
  } else if (variant.startsWith('anon-')) {
    connection = await backend(variant.slice(5) as StoreKind).connect(uniqueNamespace('http'))
    counting = countingStore(connection.store)
    app = anonKeyApp(counting.store)
  } else {
    throw new Error(`unknown variant ${variant}`)
  }
  await app.listen({ host: '127.0.0.1', port: 0 })
  if (variant.startsWith('anon-')) key = (await app.anonKey.get()) as string
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0

  const profiler = new Session()
  let cpuStart = process.cpuUsage()
  let wallStart = process.hrtime.bigint()
  serve({
    info: () => ({ port, authorization: `Bearer ${key}` }),
    /** Starts a measured window: store call counts and CPU time from now. */
    start: () => {
      counting?.reset()
      cpuStart = process.cpuUsage()
      wallStart = process.hrtime.bigint()
      return null
    },
    /** Ends a window: store calls made in it, and the share of one core the server used. */
    stop: () => {
      const cpu = process.cpuUsage(cpuStart)
      const wallMicros = Number(process.hrtime.bigint() - wallStart) / 1000
      const cpuMicros = cpu.user + cpu.system
      return { storeCalls: counting?.total() ?? 0, counts: counting?.counts() ?? {}, cpu: cpuMicros / wallMicros, cpuSeconds: cpuMicros / 1e6 }
    },
    /** Starts V8's sampling profiler in this process. */
    profileStart: async () => {
      profiler.connect()
      await profiler.post('Profiler.enable')
      await profiler.post('Profiler.setSamplingInterval', { interval: 100 })
      await profiler.post('Profiler.start')
      return null
    },
    /** Stops it and answers where the busy time went (see profile.ts). */
    profileStop: async () => {
      const { profile } = await profiler.post('Profiler.stop') as unknown as { profile: Profile }
      profiler.disconnect()
      return shares(profile)
    }
  }, async () => {
    await app.close()
    await connection?.close()
  })
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
