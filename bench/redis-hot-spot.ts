import { spawn, spawnSync } from 'node:child_process'
import { Redis } from 'ioredis'
import { POLL, RECORD } from '../lib/stores/redis/scripts.js'
import { freePort } from '../test/helpers/free-port.js'

/**
 * What the namespace's change log costs the one Redis (on a Cluster: the one master) that holds it. A Redis
 * of its own (no persistence, nothing else running on it) holds a change log of 10,000 projects; then, each
 * after CONFIG RESETSTAT, with INFO commandstats' usec_per_call (the server's time inside the command):
 * RECORD, one per change; POLL at rest (nothing changed since the last poll); POLL reading 1, 10, 100, 1,000 changes;
 * PUBLISH of a change to 1,000 subscribers (each instance's listening connection), for comparison;
 * and redis-benchmark's rate of at-rest polls (50 clients, no pipelining), I/O included.
 *   npx tsx bench/redis-hot-spot.ts [--calls 100000]
 */

const at = process.argv.indexOf('--calls')
const CALLS = at === -1 ? 100_000 : Number(process.argv[at + 1])
const PROJECTS = 10_000
const SUBSCRIBERS = 1000
const KEYS = ['{fastify-anon-key:hot}:sequence', '{fastify-anon-key:hot}:changed', '{fastify-anon-key:hot}:versions']

async function usecPerCall (client: Redis): Promise<number> {
  const stats = await client.info('commandstats')
  return Number((/cmdstat_evalsha:calls=\d+,usec=\d+,usec_per_call=([\d.]+)/.exec(stats) as RegExpExecArray)[1])
}

/** Runs `calls` EVALSHA of `script` with the arguments `args(index)`, 100 in flight at a time; resolves to usec_per_call. */
async function timed (client: Redis, sha: string, calls: number, args: (index: number) => Array<string | number>): Promise<number> {
  await client.config('RESETSTAT')
  for (let from = 0; from < calls; from += 100) {
    await Promise.all(Array.from({ length: Math.min(100, calls - from) }, (_, offset) => client.evalsha(sha, 3, ...KEYS, ...args(from + offset))))
  }
  return usecPerCall(client)
}

async function main (): Promise<void> {
  const port = await freePort()
  const server = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  const client = new Redis({ port, lazyConnect: true, retryStrategy: () => null })
  client.on('error', () => {})
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await client.connect()
        break
      } catch (error) {
        if (attempt > 50) throw error
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
    await client.script('LOAD', POLL.source)
    await client.script('LOAD', RECORD.source)
    const record = await timed(client, RECORD.sha, PROJECTS, (index) => [`tenant-${index}`, 1])
    const sequence = Number(await client.get(KEYS[0]))
    const rest = await timed(client, POLL.sha, CALLS, () => [sequence])
    const reading: Array<[number, number]> = []
    for (const changes of [1, 10, 100, 1000]) reading.push([changes, await timed(client, POLL.sha, Math.max(100, CALLS / changes), () => [sequence - changes])])
    console.log(`change log of ${PROJECTS} projects; usec_per_call (INFO commandstats, the server's time in the script):`)
    console.log(`  RECORD (one per change): ${record} µs`)
    console.log(`  POLL at rest (0 changes since the last poll): ${rest} µs`)
    for (const [changes, usec] of reading) console.log(`  POLL reading ${changes} changes: ${usec} µs (${(usec / changes).toFixed(2)} µs a change)`)
    const subscribers = Array.from({ length: SUBSCRIBERS }, () => new Redis({ port, retryStrategy: () => null }))
    await Promise.all(subscribers.map((subscriber) => subscriber.subscribe('fastify-anon-key:hot:changes')))
    await client.config('RESETSTAT')
    for (let index = 0; index < 1000; index++) await client.publish('fastify-anon-key:hot:changes', `tenant-${index} 2 ${'r'.repeat(22)}`)
    const publish = Number((/cmdstat_publish:calls=\d+,usec=\d+,usec_per_call=([\d.]+)/.exec(await client.info('commandstats')) as RegExpExecArray)[1])
    console.log(`  PUBLISH of a change to ${SUBSCRIBERS} subscribers (the message every instance hears): ${publish} µs`)
    for (const subscriber of subscribers) subscriber.disconnect()
    await client.config('RESETSTAT')
    const benchmark = spawnSync('redis-benchmark', ['-p', String(port), '-n', String(CALLS), '-c', '50', '-q', 'EVALSHA', POLL.sha, '3', ...KEYS, String(sequence)], { encoding: 'utf8' })
    const rate = /([\d.]+) requests per second/.exec(benchmark.stdout.split('\r').pop() ?? '')
    console.log(`  redis-benchmark -n ${CALLS} -c 50 EVALSHA <POLL> (at rest): ${rate?.[1] ?? benchmark.stdout.trim()} polls/s, ${await usecPerCall(client)} µs per call in the server`)
  } finally {
    client.disconnect()
    server.kill()
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
