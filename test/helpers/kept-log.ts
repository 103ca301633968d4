import type { Test } from 'tap'
import type { StoreLog } from '../../lib/stores/index.js'
import { eventually } from './eventually.js'
import type { TcpProxy } from './tcp-proxy.js'

/** A store logger that keeps its lines, as `app.log` would write them. */
export function keptLog (): StoreLog & { lines: Array<{ level: string, message: string }> } {
  const lines: Array<{ level: string, message: string }> = []
  return {
    lines,
    error: (_details, message) => { lines.push({ level: 'error', message }) },
    info: (message) => { lines.push({ level: 'info', message }) }
  }
}

/**
 * Cuts the store's backend through `proxy` while it polls every 100 ms, and checks that the outage is logged
 * once as an error naming `store`, and once more, as info, when the proxy lets traffic through again.
 */
export async function checkOutageLoggedOnce (t: Test, log: ReturnType<typeof keptLog>, proxy: TcpProxy, store: string): Promise<void> {
  proxy.cut('refuse')
  await eventually('a failed poll to be logged', () => log.lines.length > 0, 5000)
  await new Promise((resolve) => setTimeout(resolve, 600))
  t.same(log.lines.map((line) => line.level), ['error'], 'one error for the whole outage, not one per poll')
  t.match(log.lines[0].message, new RegExp(`${store} could not poll for missed changes; retrying every 100 ms`))
  proxy.restore()
  await eventually('the recovery to be logged', () => log.lines.length > 1, 10_000)
  t.match(log.lines[1], { level: 'info', message: /catch-up polling works again/ })
}

/** Checks that `polls()` does not move for `ms`: no poll runs any more. */
export async function checkNoMorePolls (t: Test, polls: () => number, ms = 300): Promise<void> {
  const after = polls()
  await new Promise((resolve) => setTimeout(resolve, ms))
  t.equal(polls(), after, 'no poll after close')
}
