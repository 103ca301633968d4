import type { KeyTally } from '../domain/usage.js'
import type { CounterLike, HistogramLike, MeterLike, MeterProviderLike, MetricAttributes, OtelApiLike } from './otel-types.js'

/** The `metrics` option. */
export interface MetricsOptions {
  /** Adds `tenant` to the attributes of `anon_key.verifications` (one series per tenant: mind the cardinality). Default: false. */
  tenantAttribute?: boolean
  /** The MeterProvider to record with. Default: the one registered globally with `@opentelemetry/api`, if any. */
  meterProvider?: MeterProviderLike
}

/** One series of `anon_key.verifications`: its attributes, and the count of the requests taken into it. */
interface VerificationCell {
  attributes: MetricAttributes
  count: number
}

/** A key as a refusal names it. */
type RefusedKey = Pick<KeyTally, 'name' | 'previous'>

const SECONDS = 's'
/** Bucket bounds in seconds, from a cached store's half a millisecond to a store timeout (the SDK's default bounds are for milliseconds). */
const SECOND_BUCKETS = { explicitBucketBoundaries: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] }

/**
 * The plugin's OpenTelemetry instruments. Made only when a meter provider is there (see loadMetrics): without
 * one, the plugin holds null and nothing is recorded. A verified request costs nothing more with them: its count
 * is the usage tally's (see keys/judge.ts `pass`), and `anon_key.verifications` is an observable counter that,
 * when the metrics are collected, reports each series' taken counts plus what its tallies counted since. Why
 * not `counter.add(1, attributes)` per request: the SDK hashes the attributes on every call, which cost several
 * times the whole verification. Series exist only for keys that verified and for refusals by code (with a known
 * key's name and role): an unknown key or tenant adds none.
 */
export class AnonKeyMetrics {
  private readonly cells = new Map<string, VerificationCell>()
  /** The tallies counting since they were last taken, each with its series. */
  private live: Array<{ tally: KeyTally, cell: VerificationCell }> = []
  private readonly storeDuration: HistogramLike
  private readonly storeErrors: CounterLike
  private readonly propagationDelay: HistogramLike
  private readonly tenantAttribute: boolean
  private readonly meter: MeterLike

  constructor (meter: MeterLike, tenantAttribute: boolean) {
    this.meter = meter
    this.tenantAttribute = tenantAttribute
    meter.createObservableCounter('anon_key.verifications', { description: 'Anon key verifications, by outcome (valid, refused), refusal code, key name and role' })
      .addCallback((result) => {
        const counting = new Map<VerificationCell, number>()
        for (const { tally, cell } of this.live) counting.set(cell, (counting.get(cell) ?? 0) + tally.requests)
        for (const cell of this.cells.values()) result.observe(cell.count + (counting.get(cell) ?? 0), cell.attributes)
      })
    this.storeDuration = meter.createHistogram('anon_key.store.duration', { description: 'Duration of the calls to the key store', unit: SECONDS, advice: SECOND_BUCKETS })
    this.storeErrors = meter.createCounter('anon_key.store.errors', { description: 'Calls to the key store that failed or timed out' })
    this.propagationDelay = meter.createHistogram('anon_key.propagation.delay', { description: 'From a change written by any instance to this instance\'s refreshed cache', unit: SECONDS, advice: SECOND_BUCKETS })
  }

  /** A key's tally counted its first request since it was last taken: its requests are this series' too. */
  counting (tally: KeyTally, tenant: string | undefined): void {
    this.live.push({ tally, cell: this.cell(this.keyAttributes('valid', tally, tenant)) })
  }

  /** The tallies are about to be taken (and set back to 0): their counts move into their series. */
  taking (): void {
    for (const { tally, cell } of this.live) cell.count += tally.requests
    this.live = []
  }

  /**
   * A refused request; `key` when it carried a key the project knows (a wrong origin or app); `tenant` only for
   * a tenant that has keys, so that requests naming random tenants add no series.
   */
  refused (code: string, key?: RefusedKey, tenant?: string): void {
    const attributes = key === undefined ? { outcome: 'refused' } : this.keyAttributes('refused', key, tenant)
    attributes.code = code
    if (this.tenantAttribute && tenant !== undefined) attributes.tenant = tenant
    this.cell(attributes).count += 1
  }

  /** One call to the store, `store` naming its kind. */
  storeCall (operation: string, store: string, seconds: number, failed: boolean): void {
    const attributes = { operation, store }
    this.storeDuration.record(seconds, attributes)
    if (failed) this.storeErrors.add(1, attributes)
  }

  propagated (seconds: number): void {
    this.propagationDelay.record(seconds)
  }

  /** Reports how many tenants this instance caches, read when the metrics are collected. */
  observeTenants (count: () => number): void {
    this.meter.createObservableUpDownCounter('anon_key.tenants.cached', { description: 'Tenants whose keys this instance caches' })
      .addCallback((result) => { result.observe(count()) })
  }

  /** The series of these attributes, made on first use. */
  private cell (attributes: MetricAttributes): VerificationCell {
    const id = JSON.stringify(attributes)
    let cell = this.cells.get(id)
    if (cell === undefined) this.cells.set(id, cell = { attributes, count: 0 })
    return cell
  }

  private keyAttributes (outcome: string, key: RefusedKey, tenant: string | undefined): MetricAttributes {
    const attributes: MetricAttributes = { outcome, 'key.name': key.name, 'key.role': key.previous ? 'previous' : 'current' }
    if (this.tenantAttribute && tenant !== undefined) attributes.tenant = tenant
    return attributes
  }
}

const NAME = 'fastify-anon-key'

/**
 * The plugin's instruments on the given meter provider, or on the one registered globally with
 * `@opentelemetry/api` (an optional peer: `load` imports it); null when the package is not installed or no
 * provider is registered, so that nothing is recorded and nothing costs.
 */
export async function loadMetrics (options: MetricsOptions, load: () => Promise<OtelApiLike> = importOtelApi): Promise<AnonKeyMetrics | null> {
  if (options.meterProvider !== undefined) return new AnonKeyMetrics(options.meterProvider.getMeter(NAME), options.tenantAttribute === true)
  let api: OtelApiLike
  try {
    api = await load()
  } catch {
    return null
  }
  const meter = api.metrics.getMeterProvider().getMeter(NAME)
  if (meter.constructor === api.createNoopMeter().constructor) return null
  return new AnonKeyMetrics(meter, options.tenantAttribute === true)
}

async function importOtelApi (): Promise<OtelApiLike> {
  const name = '@opentelemetry/api'
  return await import(name) as OtelApiLike
}
