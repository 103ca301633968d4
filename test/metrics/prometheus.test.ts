import { PrometheusExporter } from '@opentelemetry/exporter-prometheus'
import { MeterProvider } from '@opentelemetry/sdk-metrics'
import t from 'tap'
import { currentKey, rotate, startApp, useKey } from '../helpers/app.js'
import { freePort } from '../helpers/free-port.js'

t.test('the Prometheus exporter of docs/observability.md serves the plugin\'s metrics on /metrics', async (t) => {
  const port = await freePort()
  const exporter = new PrometheusExporter({ host: '127.0.0.1', port })
  t.teardown(() => exporter.shutdown())
  const provider = new MeterProvider({ readers: [exporter] })
  t.teardown(() => provider.shutdown())
  const app = await startApp(t, { metrics: { meterProvider: provider } })
  const oldKey = await currentKey(app)
  await rotate(app, { gracePeriodHours: 0 })
  await useKey(app, await currentKey(app))
  await useKey(app, await currentKey(app))
  await useKey(app, oldKey)
  const scraped = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  const scope = 'otel_scope_name="fastify-anon-key"'
  t.match(scraped, new RegExp(`^anon_key_verifications_total\\{outcome="valid",key_name="default",key_role="current",${scope}\\} 2$`, 'm'), 'verified requests, by key')
  t.match(scraped, new RegExp(`^anon_key_verifications_total\\{outcome="refused",code="ANON_KEY_EXPIRED",${scope}\\} 1$`, 'm'), 'refused requests, by code')
  t.match(scraped, new RegExp(`^anon_key_store_duration_count\\{operation="rotate",store="memory",${scope}\\} 1$`, 'm'), 'store calls')
  t.match(scraped, /^# UNIT anon_key_store_duration s$/m, 'in seconds')
  t.match(scraped, new RegExp(`^anon_key_store_duration_bucket\\{operation="rotate",store="memory",${scope},le="0.005"\\} `, 'm'), 'with buckets in seconds')
})
