import { InMemoryMetricExporter, AggregationTemporality, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { resolve } from 'node:path'
import { performance } from 'node:perf_hooks'

/**
 * `npx tsx bench/usage-metrics.ts [baseline checkout]`: what usage counting and OpenTelemetry metrics add to the
 * hook, in ns per call, measured in one process, rounds interleaved: the hook of a baseline checkout of the
 * plugin (before usage counting; default ../main), this one without a meter provider, and this one with a
 * MeterProvider of @opentelemetry/sdk-metrics. Each call is verifyAnonKey as Fastify calls it, with the current
 * key, a new header string each call.
 */

const ROUNDS = 7
const CALLS = 1_000_000
const SECRET = 'bench-secret-that-is-long-enough-for-hs256'

type Plugin = { default: (app: FastifyInstance, options: any) => Promise<void> }

async function hookOf (plugin: Plugin, options: Record<string, unknown>): Promise<(count: number) => number> {
  const app = Fastify()
  await app.register(plugin.default, { jwt: { secret: SECRET }, ...options })
  await app.ready()
  const key = await app.anonKey.get() as string
  const hook = app.verifyAnonKey
  const reply = { header () { return this } } as unknown as FastifyReply
  let passed = 0
  const done = (error?: unknown): void => { if (error === undefined) passed++ }
  const headers = { authorization: '' }
  const request = { headers, anonKey: null } as unknown as FastifyRequest
  return (count) => {
    passed = 0
    for (let i = 0; i < count; i++) {
      headers.authorization = 'Bearer ' + key
      hook(request, reply, done)
    }
    return passed
  }
}

async function main (): Promise<void> {
  const baselineDir = resolve(process.argv[2] ?? resolve(__dirname, '..', '..', 'main'))
  const provider = new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE), exportIntervalMillis: 3_600_000 })] })
  const variants: Array<[string, (count: number) => number]> = [
    [`baseline (${baselineDir})`, await hookOf(await import(resolve(baselineDir, 'lib', 'index.ts')) as Plugin, {})],
    ['usage counting, no meter provider', await hookOf(await import('../lib/index.js') as unknown as Plugin, {})],
    ['usage counting and a MeterProvider', await hookOf(await import('../lib/index.js') as unknown as Plugin, { metrics: { meterProvider: provider } })]
  ]
  for (const [, run] of variants) run(CALLS) // warm-up
  const samples = variants.map(() => [] as number[])
  for (let round = 0; round < ROUNDS; round++) {
    variants.forEach(([, run], index) => {
      const started = performance.now()
      if (run(CALLS) !== CALLS) throw new Error('a verification failed')
      samples[index].push((performance.now() - started) * 1e6 / CALLS)
    })
  }
  const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
  const base = median(samples[0])
  for (const [index, [name]] of variants.entries()) {
    const ns = median(samples[index])
    console.log(`${name.padEnd(60)} ${ns.toFixed(1).padStart(7)} ns/call  (${((ns / base - 1) * 100).toFixed(1)} % vs baseline)`)
  }
  await provider.shutdown()
  process.exit(0)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
