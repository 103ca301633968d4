import { generateAnonKey } from '../lib/stores/index.js'
import { keyHandle } from '../lib/conformance/index.js'
import { serve } from './child.js'
import { median } from './stats.js'
import { backend, uniqueNamespace, type StoreKind } from './stores.js'

/**
 * Child process: 20 rotations at once, each on a tenant of its own, on one namespace (as 20 admins of 20
 * tenants would), timed from the first call until the last one resolved, round after round. Whatever every
 * change of a namespace writes in common (a change log) would make them wait for each other and show here.
 * It uses only what every release's store offers, so the same file measures the code before a change too.
 */

export interface TenantRotationsResult {
  kind: StoreKind
  rounds: number
  concurrent: number
  medianMs: number
  maxMs: number
}

const CONCURRENT = 20

async function main (): Promise<void> {
  const rounds = process.argv.includes('--short') ? 3 : 30
  serve({
    async run (): Promise<TenantRotationsResult[]> {
      const results: TenantRotationsResult[] = []
      for (const kind of ['postgres', 'redis'] as const) {
        const connection = await backend(kind).connect(uniqueNamespace('tenant_rotations'))
        const tenants = Array.from({ length: CONCURRENT }, (_, index) => keyHandle(connection.store, `t${index}`))
        for (const tenant of tenants) await tenant.initialize(generateAnonKey())
        const times: number[] = []
        for (let round = 0; round < rounds; round++) {
          const now = Date.now()
          const start = performance.now()
          await Promise.all(tenants.map((tenant) => tenant.rotate({ newKey: generateAnonKey(), now, expiresAt: now + 3_600_000 })))
          times.push(performance.now() - start)
        }
        await connection.close()
        results.push({ kind, rounds, concurrent: CONCURRENT, medianMs: median(times), maxMs: Math.max(...times) })
      }
      return results
    }
  })
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
