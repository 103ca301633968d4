import { memoryStore } from '../lib/index.js'
import { anonKeyApp } from './apps.js'

/**
 * `npx tsx bench/rotation-cpu.ts`: CPU time of one `app.anonKey.rotate()` on the memory store, where nothing
 * but the plugin and the store costs anything: on a small document (a fresh store every 10 rotations), and on a
 * full history (after 1,300 rotations alternating a 720 h and a 0 h grace: 100 valid previous keys and 1,000
 * retired records). It uses only the public API, so the same file runs on an older checkout of the plugin:
 * copy it there and run the two one after the other, pinned to one core (`taskset -c 1`), to compare.
 */

const cpuMicros = (): number => {
  const used = process.cpuUsage()
  return used.user + used.system
}

async function main (): Promise<void> {
  let small = 0
  let smallRotations = 0
  for (let block = 0; block < 100; block++) {
    const app = anonKeyApp(memoryStore())
    await app.ready()
    await app.anonKey.rotate({ gracePeriodHours: 1 }) // warm-up, not timed
    const started = cpuMicros()
    for (let i = 0; i < 10; i++) await app.anonKey.rotate({ gracePeriodHours: 1 })
    small += cpuMicros() - started
    smallRotations += 10
    await app.close()
  }
  const app = anonKeyApp(memoryStore())
  await app.ready()
  const grace = (i: number): number => (i % 2 === 0 ? 720 : 0)
  for (let i = 0; i < 1300; i++) await app.anonKey.rotate({ gracePeriodHours: grace(i) })
  const started = cpuMicros()
  for (let i = 0; i < 300; i++) await app.anonKey.rotate({ gracePeriodHours: grace(i) })
  const full = (cpuMicros() - started) / 300
  await app.close()
  console.log(`CPU per rotation, memory store: small document ${(small / smallRotations / 1000).toFixed(3)} ms, full history ${(full / 1000).toFixed(3)} ms`)
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
