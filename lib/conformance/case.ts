import type { CaseTools } from './tools.js'

/** One behaviour every store must have, checked with node:assert. */
export interface StoreCase {
  name: string
  run (tools: CaseTools, settings: CaseSettings): Promise<void>
}

export interface CaseSettings {
  /** How many stores initialize at once. */
  instances: number
  /** How many rotations run at once. */
  concurrency: number
}
