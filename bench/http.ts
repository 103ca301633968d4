import autocannon from 'autocannon'
import type { RequestHeaders } from './apps.js'
import { Child } from './child.js'
import { LOAD_CORE, pinToCore, SERVER_CORE } from './pin.js'
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
  /** Server CPU time per answered request, in µs, one figure per round: the cost per request. */
  cpuPerRequest: number[]
  /** Requests per second, one figure per round. */
  throughput: number[]
  latencyP50: number
  latencyP99: number
  /** Median share of one core the server process used while loaded. */
  serverCpu: number
  requests: number
  storeCalls: number
  /** From the profiled round: busy CPU time and the time inside the watched functions. */
  profile: Shares | null
}

export interface HttpResult {
  variants: VariantResult[]
  /** Whether servers and load generator ran pinned to separate cores. */
  pinned: boolean
}

interface Window { storeCalls: number, cpu: number, cpuSeconds: number }

async function load (url: string, headers: RequestHeaders, seconds: number, settings: HttpSettings): Promise<autocannon.Result> {
  const result = await autocannon({
    url,
    // A list: each connection sends one request with each entry in turn.
    ...(Array.isArray(headers) ? { requests: headers.map((entry) => ({ headers: entry })) } : { headers }),
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
 * The same route under each variant: one server child per variant, all started first, then `rounds` rounds in
 * which every variant is loaded in turn, the order rotating each round so that no variant always runs first or
 * right after the same neighbour. Only one server is loaded at a time. What is compared is the server's own CPU
 * time per answered request (process.cpuUsage in the server over the window): throughput follows whatever else
 * the machine is doing and swings by ±20 % on a shared machine, CPU per request much less.
 */
export async function httpBench (settings: HttpSettings): Promise<HttpResult> {
  const children = settings.variants.map((variant) => new Child('server.ts', [variant], `server ${variant}`))
  try {
    const targets = await Promise.all(children.map((child) => child.request<{ port: number, headers: RequestHeaders, pid: number }>('info')))
    const pinned = LOAD_CORE !== SERVER_CORE && pinToCore(process.pid, LOAD_CORE) && targets.every((target) => pinToCore(target.pid, SERVER_CORE))
    const url = (index: number): string => `http://127.0.0.1:${targets[index].port}/data`
    for (let index = 0; index < children.length; index++) await load(url(index), targets[index].headers, settings.warmupSeconds, settings)

    const perRequest: number[][] = settings.variants.map(() => [])
    const throughput: number[][] = settings.variants.map(() => [])
    const p50: number[][] = settings.variants.map(() => [])
    const p99: number[][] = settings.variants.map(() => [])
    const cpu: number[][] = settings.variants.map(() => [])
    const requests = settings.variants.map(() => 0)
    const storeCalls = settings.variants.map(() => 0)
    for (let round = 0; round < settings.rounds; round++) {
      for (let step = 0; step < children.length; step++) {
        const index = (round + step) % children.length
        await children[index].request('start')
        const result = await load(url(index), targets[index].headers, settings.seconds, settings)
        const window = await children[index].request<Window>('stop')
        perRequest[index].push(window.cpuSeconds * 1e6 / result['2xx'])
        throughput[index].push(result['2xx'] / result.duration)
        p50[index].push(result.latency.p50)
        p99[index].push(result.latency.p99)
        cpu[index].push(window.cpu)
        requests[index] += result['2xx']
        storeCalls[index] += window.storeCalls
      }
    }

    const profiles: Array<Shares | null> = settings.variants.map(() => null)
    if (settings.profile) {
      for (let index = 0; index < children.length; index++) {
        await children[index].request('profileStart')
        await load(url(index), targets[index].headers, settings.seconds, settings)
        profiles[index] = await children[index].request<Shares>('profileStop')
      }
    }

    return {
      pinned,
      variants: settings.variants.map((variant, index) => ({
        variant,
        cpuPerRequest: perRequest[index],
        throughput: throughput[index],
        latencyP50: median(p50[index]),
        latencyP99: median(p99[index]),
        serverCpu: median(cpu[index]),
        requests: requests[index],
        storeCalls: storeCalls[index],
        profile: profiles[index]
      }))
    }
  } finally {
    await Promise.all(children.map((child) => child.close()))
  }
}

/**
 * How `over` compares with `variant` in CPU per request, as issue 10 states it (over's cost divided by variant's;
 * above 1, the variant costs less). `paired`: the median over rounds of that ratio within each round, where the
 * two windows were a few seconds apart; the figure judged, since other work on the machine comes and goes over
 * seconds and moves both windows of a round alike. `ratio`: the ratio of the two medians over all rounds.
 */
export function cpuRatio (variant: VariantResult, over: VariantResult): { paired: number, ratio: number, roundMin: number, roundMax: number } {
  const perRound = variant.cpuPerRequest.map((cost, round) => over.cpuPerRequest[round] / cost)
  return {
    paired: median(perRound),
    ratio: median(over.cpuPerRequest) / median(variant.cpuPerRequest),
    roundMin: Math.min(...perRound),
    roundMax: Math.max(...perRound)
  }
}
