import { execFileSync } from 'node:child_process'
import { cpus } from 'node:os'

/**
 * Pins every thread of process `pid` to one core with `taskset -a -p -c` (Linux). Returns false where taskset is
 * missing or refuses, and the run goes on unpinned. The throughput part pins the servers to core 0 and itself,
 * the load generator, to the last core: each then measures its own work, not a fight over one core.
 */
export function pinToCore (pid: number, core: number): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

export const SERVER_CORE = 0
export const LOAD_CORE = cpus().length - 1
