import { fork } from 'node:child_process'
import { resolve } from 'node:path'
import { median } from './stats.js'

/**
 * `npx tsx bench/usage-metrics.ts <baseline checkout>`: what usage counting and OpenTelemetry metrics add to the
 * hook, in CPU ns per call: the hook of a baseline checkout of the plugin (with its node_modules), this tree
 * without a meter provider, and this tree with a MeterProvider of @opentelemetry/sdk-metrics. Each is called as
 * Fastify calls it, with a current key and with a previous key, a new header string each call. Every measurement
 * runs in a process of its own, the variants in a rotated order each round: two trees in one process measured
 * 25 % apart depending on which was loaded first.
 */

const ROUNDS = 5
const WARM_UP = 500_000
const CALLS = 1_000_000
const SAMPLES = 3
const CASES = ['current key', 'previous key'] as const

type Variant = 'baseline' | 'this tree' | 'this tree, MeterProvider'
const VARIANTS: Variant[] = ['baseline', 'this tree', 'this tree, MeterProvider']

type Hook = (request: unknown, reply: unknown, done: (error?: unknown) => void) => void

/** In the child: the hook of one variant, with a current and a previous key. */
async function hookOf (variant: Variant, baseline: string): Promise<{ hook: Hook, keys: Record<typeof CASES[number], string> }> {
  const root = variant === 'baseline' ? baseline : resolve(__dirname, '..')
  const Fastify = (await import(resolve(root, 'node_modules/fastify/fastify.js'))).default
  const entry = await import(resolve(root, 'lib/index.ts'))
  const plugin = entry.default?.default ?? entry.default
  const options: Record<string, unknown> = { store: entry.memoryStore(), authorize: () => true }
  if (variant === 'this tree, MeterProvider') {
    const { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } = await import('@opentelemetry/sdk-metrics')
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
    options.metrics = { meterProvider: new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })] }) }
  }
  const app = Fastify()
  await app.register(plugin, options)
  await app.ready()
  const previous = await app.anonKey.get()
  const current = (await app.anonKey.rotate({ gracePeriodHours: 1 })).anonKey
  return { hook: app.verifyAnonKey, keys: { 'current key': current, 'previous key': previous } }
}

function measure (hook: Hook, key: string, calls: number): number {
  // Copies of the key, equal but not the same string: the header built from one cannot be hoisted out of the
  // loop, which V8 sometimes did with one key (the hook then ran at 30 ns, on a string hashed once).
  const copies = Array.from({ length: 8 }, (_, index) => (key + String(index)).slice(0, key.length))
  const headers = { authorization: '' }
  const request = { headers, anonKey: null, log: { warn () {} } }
  const reply = { header () { return this } }
  let passed = 0
  const done = (error?: unknown): void => { if (error === undefined) passed++ }
  const start = process.cpuUsage()
  for (let i = 0; i < calls; i++) {
    headers.authorization = 'Bearer ' + copies[i & 7]
    hook(request, reply, done)
  }
  const used = process.cpuUsage(start)
  if (passed !== calls) throw new Error(`${calls - passed} calls refused`)
  return ((used.user + used.system) * 1000) / calls
}

async function child (variant: Variant, baseline: string): Promise<void> {
  const { hook, keys } = await hookOf(variant, baseline)
  const result: Record<string, number> = {}
  for (const name of CASES) {
    measure(hook, keys[name], WARM_UP)
    result[name] = median(Array.from({ length: SAMPLES }, () => measure(hook, keys[name], CALLS)))
  }
  process.send?.(result)
  process.exit(0)
}

function runChild (variant: Variant, baseline: string): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const forked = fork(__filename, ['--child', variant, baseline], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    forked.once('message', (message) => resolve(message as Record<string, number>))
    forked.once('exit', (code) => { if (code !== 0) reject(new Error(`${variant}: the child exited with ${code}`)) })
  })
}

async function main (): Promise<void> {
  if (process.argv[2] === '--child') return child(process.argv[3] as Variant, process.argv[4])
  const baseline = process.argv[2]
  if (baseline === undefined) throw new Error('Usage: npx tsx bench/usage-metrics.ts <baseline checkout, with its node_modules>')
  const samples = new Map(VARIANTS.map((variant) => [variant, CASES.map(() => [] as number[])]))
  for (let round = 0; round < ROUNDS; round++) {
    const order = VARIANTS.map((_, index) => VARIANTS[(index + round) % VARIANTS.length])
    for (const variant of order) {
      const result = await runChild(variant, resolve(baseline))
      CASES.forEach((name, index) => samples.get(variant)?.[index].push(result[name]))
    }
  }
  for (const [index, name] of CASES.entries()) {
    const base = median((samples.get('baseline') as number[][])[index])
    for (const variant of VARIANTS) {
      const ns = median((samples.get(variant) as number[][])[index])
      const all = (samples.get(variant) as number[][])[index].map((value) => value.toFixed(0)).join(' ')
      console.log(`${name}, ${variant}: ${ns.toFixed(1)} ns/call, ratio to the baseline ${(ns / base).toFixed(3)} (rounds: ${all})`)
    }
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
