import autocannon from 'autocannon'
import { Child } from './child.js'
import type { Shares } from './profile.js'
import { median } from './stats.js'

export interface HttpSettings {
  variants: string[]
  rounds: number
  /** Seconds of load per variant and round. */
  seconds: number
  warmupSeconds: number
  connections: number
  pipelining: number
  /** After the measured rounds, one more round per variant under V8's profiler. */
  profile: boolean
}

export interface VariantResult {
  variant: string
  /** Requests per second, one figure per round. */
  rounds: number[]
  median: number
  /** This variant's median over bare's median. */
  ratio: number
  /** Median over rounds of (this round / bare's figure in the same round). */
  pairedRatio: number
  latencyP50: number
  latencyP99: number
  /** Median share of one core the server process used while loaded. */
  serverCpu: number
  /** Median requests answered per second of the server's own CPU time: the cost per request, which other
   * load on the machine disturbs much less than it disturbs throughput. */
  perCpuSecond: number
  /** perCpuSecond over bare's. */
  cpuRatio: number
  requests: number
  storeCalls: number
  storeCallsPerRequest: number
  /** From the profiled round: busy CPU time and the time inside the watched functions. */
  profile: Shares | null
}

interface Window { storeCalls: number, cpu: number, cpuSeconds: number }

async function load (url: string, authorization: string, seconds: number, settings: HttpSettings): Promise<autocannon.Result> {
  const result = await autocannon({
    url,
    headers: { authorization },
    connections: settings.connections,
    pipelining: settings.pipelining,
    duration: seconds,
    // autocannon only stops at a sample tick (1 s by default): short runs need shorter ticks
    sampleInt: Math.min(1000, Math.round(seconds * 1000 / 3))
  })
  if (result.errors > 0 || result.non2xx > 0 || result['2xx'] === 0) {
    throw new Error(`${url}: ${result['2xx']} answers 2xx, ${result.non2xx} not 2xx, ${result.errors} errors`)
  }
  return result
}

/**
 * Throughput of the same route under each variant: one server child per variant, all started first, then
 * `rounds` rounds in which every variant is loaded in turn, the order rotating each round so that no variant
 * always runs first or right after the same neighbour. Only one server is loaded at a time.
 */
export async function httpBench (settings: HttpSettings): Promise<VariantResult[]> {
  const children = settings.variants.map((variant) => new Child('server.ts', [variant], `server ${variant}`))
  try {
    const targets = await Promise.all(children.map((child) => child.request<{ port: number, authorization: string }>('info')))
    const url = (index: number): string => `http://127.0.0.1:${targets[index].port}/data`
    for (let index = 0; index < children.length; index++) await load(url(index), targets[index].authorization, settings.warmupSeconds, settings)

    const perRound: number[][] = settings.variants.map(() => [])
    const p50: number[][] = settings.variants.map(() => [])
    const p99: number[][] = settings.variants.map(() => [])
    const cpu: number[][] = settings.variants.map(() => [])
    const perCpu: number[][] = settings.variants.map(() => [])
    const requests = settings.variants.map(() => 0)
    const storeCalls = settings.variants.map(() => 0)
    for (let round = 0; round < settings.rounds; round++) {
      for (let step = 0; step < children.length; step++) {
        const index = (round + step) % children.length
        await children[index].request('start')
        const result = await load(url(index), targets[index].authorization, settings.seconds, settings)
        const window = await children[index].request<Window>('stop')
        perRound[index].push(result['2xx'] / result.duration)
        p50[index].push(result.latency.p50)
        p99[index].push(result.latency.p99)
        cpu[index].push(window.cpu)
        perCpu[index].push(result['2xx'] / window.cpuSeconds)
        requests[index] += result['2xx']
        storeCalls[index] += window.storeCalls
      }
    }

    const profiles: Array<Shares | null> = settings.variants.map(() => null)
    if (settings.profile) {
      for (let index = 0; index < children.length; index++) {
        await children[index].request('profileStart')
        await load(url(index), targets[index].authorization, settings.seconds, settings)
        profiles[index] = await children[index].request<Shares>('profileStop')
      }
    }

    const bare = settings.variants.indexOf('bare')
    return settings.variants.map((variant, index) => ({
      variant,
      rounds: perRound[index],
      median: median(perRound[index]),
      ratio: median(perRound[index]) / median(perRound[bare]),
      pairedRatio: median(perRound[index].map((value, round) => value / perRound[bare][round])),
      latencyP50: median(p50[index]),
      latencyP99: median(p99[index]),
      serverCpu: median(cpu[index]),
      perCpuSecond: median(perCpu[index]),
      cpuRatio: median(perCpu[index]) / median(perCpu[bare]),
      requests: requests[index],
      storeCalls: storeCalls[index],
      storeCallsPerRequest: storeCalls[index] / requests[index],
      profile: profiles[index]
    }))
  } finally {
    await Promise.all(children.map((child) => child.close()))
  }
}
