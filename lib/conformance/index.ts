import { randomBytes } from 'node:crypto'
import type { CaseSettings } from './case.js'
import { initializeCases } from './initialize-cases.js'
import { keyHandle } from './key-handle.js'
import { namesCases } from './names-cases.js'
import { notifyCases } from './notify-cases.js'
import { projectsCases } from './projects-cases.js'
import { retentionCases } from './retention-cases.js'
import { revokeCases } from './revoke-cases.js'
import { rotateCases } from './rotate-cases.js'
import { sleep, type CaseTools } from './tools.js'
import { usageCases } from './usage-cases.js'
import { usageHistoryCases } from './usage-history-cases.js'
import type { AnonKeyStore } from '../stores/interface.js'

/**
 * `fastify-anon-key/testing`: the conformance suite every store passes, for authors of their own adapter.
 * Each case makes its own namespaces, so the cases can run in any order against one shared backend.
 */
export interface StoreConformanceOptions {
  /**
   * Makes a store on the backend under test. Calls with the same namespace must give stores that share
   * the same data, as separate app instances would (a new client-side instance each time where the backend
   * allows it). Every store the suite makes is closed at the end of its case, and close() may come twice.
   */
  createStore: (namespace: string) => AnonKeyStore | Promise<AnonKeyStore>
  /** Everything the backend holds for a namespace, as text: lets the suite check no previous key is kept in plain. */
  readRaw?: (namespace: string) => Promise<string>
  /** How many rotations run at once, spread over two instances. Default: 20. */
  concurrency?: number
  /** How many instances initialize at once. Default: 5. */
  instances?: number
  /** How long to wait for a notification before failing, in ms. Default: 5000. */
  notificationTimeoutMs?: number
  /** Prefix of the namespaces the suite makes. Default: 'conformance'. */
  namespacePrefix?: string
}

export interface StoreConformanceCase {
  name: string
  /** Resolves when the store behaves; rejects with a node:assert error saying what went wrong otherwise. */
  run: () => Promise<void>
}

/** Anything with a `test(name, fn)` method: a tap `t`, a node:test context, and so on. */
export interface ConformanceTestHost {
  test (name: string, fn: () => Promise<void>): unknown
}

const ALL_CASES = [
  ...initializeCases, ...rotateCases, ...revokeCases, ...retentionCases, ...usageCases, ...usageHistoryCases, ...notifyCases, ...namesCases, ...projectsCases
]

/** The conformance cases, framework-agnostic: run each `run()` with any test runner. */
export function storeConformanceCases (options: StoreConformanceOptions): StoreConformanceCase[] {
  const settings: CaseSettings = { concurrency: options.concurrency ?? 20, instances: options.instances ?? 5 }
  const timeoutMs = options.notificationTimeoutMs ?? 5000
  const prefix = options.namespacePrefix ?? 'conformance'
  return ALL_CASES.map((storeCase) => ({
    name: storeCase.name,
    async run () {
      const opened: AnonKeyStore[] = []
      const tools: CaseTools = {
        namespace: () => `${prefix}_${randomBytes(6).toString('hex')}`,
        async store (namespace) {
          const store = await options.createStore(namespace)
          opened.push(store)
          return store
        },
        async key (namespace) {
          return keyHandle(await this.store(namespace))
        },
        waitFor: (what, condition) => waitFor(what, condition, timeoutMs),
        readRaw: options.readRaw ?? null
      }
      try {
        await storeCase.run(tools, settings)
      } finally {
        for (const store of opened) await store.close()
      }
    }
  }))
}

/** Runs every case as a subtest of `t`: `await runStoreConformance(t, { createStore })`. */
export async function runStoreConformance (t: ConformanceTestHost, options: StoreConformanceOptions): Promise<void> {
  await Promise.all(storeConformanceCases(options).map((conformanceCase) => t.test(conformanceCase.name, conformanceCase.run)))
}

async function waitFor (what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() >= deadline) throw new Error(`the store never delivered ${what} within ${timeoutMs} ms`)
    await sleep(10)
  }
}

export type { AnonKeyStore, ProjectSnapshot } from '../stores/interface.js'
export { keyHandle } from './key-handle.js'
export type { KeyHandle, Rotated } from './key-handle.js'
