/**
 * The part of `@opentelemetry/api` the plugin uses, described structurally so that the package stays an optional
 * peer: its types are not needed to compile against fastify-anon-key. A `MeterProvider` of the API fits.
 */
export type MetricAttributes = Record<string, string>

export interface CounterLike {
  add (value: number, attributes?: MetricAttributes): void
}

export interface HistogramLike {
  record (value: number, attributes?: MetricAttributes): void
}

export interface ObservableLike {
  addCallback (callback: (result: { observe (value: number, attributes?: MetricAttributes): void }) => void): void
}

export interface MeterLike {
  createCounter (name: string, options?: { description?: string, unit?: string }): CounterLike
  createHistogram (name: string, options?: { description?: string, unit?: string, advice?: { explicitBucketBoundaries?: number[] } }): HistogramLike
  createObservableUpDownCounter (name: string, options?: { description?: string, unit?: string }): ObservableLike
  createObservableCounter (name: string, options?: { description?: string, unit?: string }): ObservableLike
}

export interface MeterProviderLike {
  getMeter (name: string, version?: string): MeterLike
}

/** What the plugin needs of `@opentelemetry/api` itself: the global provider, and a no-op meter to tell it from a real one. */
export interface OtelApiLike {
  metrics: { getMeterProvider (): MeterProviderLike }
  createNoopMeter (): object
}
