import type { StoreLog } from '../../lib/store.js'

/** A store logger that keeps its lines, as `app.log` would write them. */
export function keptLog (): StoreLog & { lines: Array<{ level: string, message: string }> } {
  const lines: Array<{ level: string, message: string }> = []
  return {
    lines,
    error: (_details, message) => { lines.push({ level: 'error', message }) },
    info: (message) => { lines.push({ level: 'info', message }) }
  }
}
