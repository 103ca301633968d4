import { metrics } from '@opentelemetry/api'
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics'
import t from 'tap'
import { memoryStore, type AnonKeyStore } from '../../lib/index.js'
import { loadMetrics } from '../../lib/metrics/metrics.js'
import { buildApp, currentKey, rotate, startApp, useKey } from '../helpers/app.js'
import { createNamedKey, useKeyFrom } from '../helpers/named-keys.js'
import { startTenantApp, useTenantKey } from '../helpers/tenants.js'

/** A real MeterProvider whose metrics the test reads on demand, through an in-memory exporter. */
function meterProvider (t: { teardown: (fn: () => unknown) => void }) {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
  const provider = new MeterProvider({ readers: [reader] })
  t.teardown(() => provider.shutdown())
  return {
    provider,
    /** Every data point of one instrument, as [attributes, value]. */
    async points (name: string): Promise<Array<[Record<string, unknown>, unknown]>> {
      exporter.reset()
      await reader.forceFlush()
      const found: Array<[Record<string, unknown>, unknown]> = []
      for (const resource of exporter.getMetrics() as ResourceMetrics[]) {
        for (const scope of resource.scopeMetrics) {
          for (const metric of scope.metrics) {
            if (metric.descriptor.name === name) for (const point of metric.dataPoints) found.push([point.attributes, point.value])
          }
        }
      }
      return found
    }
  }
}

/** Points in one order, whatever the order of their attributes. */
const canonical = (point: [Record<string, unknown>, unknown]): string => JSON.stringify([Object.entries(point[0]).sort(), point[1]])
const byJson = (points: Array<[Record<string, unknown>, unknown]>) => [...points].sort((a, b) => canonical(a) < canonical(b) ? -1 : 1)

t.test('verifications are counted by outcome, code, key name and role', async (t) => {
  const otel = meterProvider(t)
  const app = await startApp(t, { metrics: { meterProvider: otel.provider } })
  const oldKey = await currentKey(app)
  await rotate(app, { gracePeriodHours: 1 })
  const newKey = await currentKey(app)
  const web = await createNamedKey(app, { name: 'web', allowedOrigins: ['https://app.example.com'] })
  for (let i = 0; i < 3; i++) await useKey(app, newKey)
  await useKey(app, oldKey)
  await useKey(app, 'anon_' + '1'.repeat(64))
  await useKey(app, 'not a key')
  await useKeyFrom(app, web.anonKey, { origin: 'https://evil.example' })
  await app.anonKey.verify(newKey)
  t.same(byJson(await otel.points('anon_key.verifications')), byJson([
    [{ outcome: 'valid', 'key.name': 'default', 'key.role': 'current' }, 4],
    [{ outcome: 'valid', 'key.name': 'default', 'key.role': 'previous' }, 1],
    [{ outcome: 'refused', code: 'AUTH_INVALID_CREDENTIALS' }, 2],
    [{ outcome: 'refused', code: 'ANON_KEY_ORIGIN_NOT_ALLOWED', 'key.name': 'web', 'key.role': 'current' }, 1]
  ]))
})

t.test('store calls are timed in seconds by operation and store, failures counted', async (t) => {
  const otel = meterProvider(t)
  const inner = memoryStore()
  let failing = false
  const store: AnonKeyStore = { ...inner, namespace: inner.namespace, load: async (project) => { if (failing) throw new Error('down'); return inner.load(project) } }
  const app = await startApp(t, { store, metrics: { meterProvider: otel.provider } })
  await rotate(app, { gracePeriodHours: 1 })
  failing = true
  t.equal((await app.inject({ url: '/api/metadata/anon-key', headers: { authorization: 'Bearer x' } })).statusCode, 401)
  await t.rejects(app.anonKey.get(), { code: 'STORE_UNAVAILABLE' })
  const durations = await otel.points('anon_key.store.duration')
  const rotateCall = durations.find(([attributes]) => attributes.operation === 'rotate')
  t.same(rotateCall?.[0], { operation: 'rotate', store: 'custom' }, 'a store the plugin did not build is "custom"')
  t.ok((rotateCall?.[1] as { count: number, sum: number }).count === 1 && (rotateCall?.[1] as { sum: number }).sum < 5, 'one rotate call, in seconds')
  t.same(await otel.points('anon_key.store.errors'), [[{ operation: 'load', store: 'custom' }, 1]])
})

t.test('a change heard from another instance records its propagation delay; the built-in store names its kind', async (t) => {
  const otel = meterProvider(t)
  const store = memoryStore()
  const writer = await startApp(t, { store })
  const reader = await startApp(t, { store, metrics: { meterProvider: otel.provider } })
  await rotate(writer, { gracePeriodHours: 1 })
  await new Promise((resolve) => setTimeout(resolve, 50))
  const [[attributes, delay]] = await otel.points('anon_key.propagation.delay')
  t.same(attributes, {})
  t.equal((delay as { count: number }).count, 1, 'the rotation was heard once')
  t.ok((delay as { max: number }).max < 5, 'in seconds')
  t.ok((await otel.points('anon_key.store.duration')).some(([attributes]) => attributes.store === 'memory'))
  t.ok(reader)
})

t.test('tenant mode: tenants.cached follows the cache; tenantAttribute adds the tenant', async (t) => {
  const otel = meterProvider(t)
  const app = await startTenantApp(t, { metrics: { meterProvider: otel.provider, tenantAttribute: true } })
  for (const tenant of ['acme', 'globex']) {
    const { anonKey } = await app.anonKey.forTenant(tenant).initialize()
    await useTenantKey(app, tenant, anonKey)
  }
  t.same(await otel.points('anon_key.tenants.cached'), [[{}, 2]])
  t.same(byJson((await otel.points('anon_key.verifications')).filter(([attributes]) => attributes.outcome === 'valid')), byJson([
    [{ outcome: 'valid', 'key.name': 'default', 'key.role': 'current', tenant: 'acme' }, 1],
    [{ outcome: 'valid', 'key.name': 'default', 'key.role': 'current', tenant: 'globex' }, 1]
  ]))
  const unknownKey = 'anon_' + '2'.repeat(64)
  t.equal((await useTenantKey(app, 'acme', unknownKey)).statusCode, 401)
  t.equal((await useTenantKey(app, 'nobody', unknownKey)).statusCode, 401)
  t.equal((await useTenantKey(app, 'not a tenant!', unknownKey)).statusCode, 401)
  t.same(byJson((await otel.points('anon_key.verifications')).filter(([attributes]) => attributes.outcome === 'refused')), byJson([
    [{ outcome: 'refused', code: 'AUTH_INVALID_CREDENTIALS', tenant: 'acme' }, 1],
    [{ outcome: 'refused', code: 'AUTH_INVALID_CREDENTIALS' }, 2]
  ]), 'a refusal names a tenant that has keys; one without keys, or no tenant at all, adds no series')
})

t.test('the globally registered MeterProvider is used; without one, or without the package, nothing is made', async (t) => {
  t.equal(await loadMetrics({}), null, 'no provider registered: no instruments')
  t.equal(await loadMetrics({}, async () => { throw new Error('Cannot find module \'@opentelemetry/api\'') }), null, 'package missing: no instruments')
  const otel = meterProvider(t)
  metrics.setGlobalMeterProvider(otel.provider)
  t.teardown(() => metrics.disable())
  const app = await startApp(t)
  await useKey(app, await currentKey(app))
  t.same(await otel.points('anon_key.verifications'), [[{ outcome: 'valid', 'key.name': 'default', 'key.role': 'current' }, 1]])
})

t.test('a bad metrics option fails ready() naming it', async (t) => {
  for (const [metricsOption, pattern] of [
    [true, /option "metrics" must be an object/],
    [{ tenant: true }, /option "metrics" has no option "tenant"/],
    [{ tenantAttribute: 'yes' }, /option "metrics.tenantAttribute" must be true or false/],
    [{ meterProvider: {} }, /option "metrics.meterProvider" must be an OpenTelemetry MeterProvider/]
  ] as const) {
    const app = buildApp({ metrics: metricsOption as any })
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.ready() }, { message: pattern })
  }
})

t.test('a tenant whose keys cannot be loaded is refused with STORE_UNAVAILABLE, counted', async (t) => {
  const otel = meterProvider(t)
  const base = memoryStore()
  const store: AnonKeyStore = { ...base, namespace: base.namespace, load: async (project) => { if (project === 'down') throw new Error('connection reset'); return base.load(project) } }
  const app = await startTenantApp(t, { store, metrics: { meterProvider: otel.provider } })
  t.equal((await useTenantKey(app, 'down', 'anon_' + '3'.repeat(64))).statusCode, 503)
  t.same(byJson((await otel.points('anon_key.verifications')).filter(([attributes]) => attributes.code === 'STORE_UNAVAILABLE')),
    [[{ outcome: 'refused', code: 'STORE_UNAVAILABLE' }, 1]])
})
