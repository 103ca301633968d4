import assert from 'node:assert/strict'
import type { KeySnapshot } from '../domain/project.js'
import type { CaseTools } from './tools.js'

/** Fails when a retired key can be read back from a snapshot or from what the backend holds. */
export async function assertNotStoredInPlain (tools: CaseTools, namespace: string, snapshots: KeySnapshot[], retiredKeys: string[]): Promise<void> {
  const texts = snapshots.map((snapshot) => JSON.stringify(snapshot))
  if (tools.readRaw !== null) texts.push(await tools.readRaw(namespace))
  for (const key of retiredKeys) {
    const hex = key.slice('anon_'.length)
    for (const text of texts) assert.ok(!text.includes(hex), 'a previous key can be read back in plain text')
  }
}
