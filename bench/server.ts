import { Session } from 'node:inspector/promises'
import { VARIANTS } from './apps.js'
import { serve } from './child.js'
import { shares, type Profile } from './profile.js'

/**
 * Child process: one HTTP server for one variant of the route (see VARIANTS), on loopback, driven by run.ts
 * over IPC.
 */
async function main (): Promise<void> {
  const variant = process.argv[2]
  const build = VARIANTS[variant]
  if (build === undefined) throw new Error(`unknown variant ${variant}; known: ${Object.keys(VARIANTS).join(', ')}`)
  const { app, counting, connection, headers } = await build()
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const requestHeaders = await headers()

  const profiler = new Session()
  let cpuStart = process.cpuUsage()
  let wallStart = process.hrtime.bigint()
  serve({
    info: () => ({ port, headers: requestHeaders, pid: process.pid }),
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
