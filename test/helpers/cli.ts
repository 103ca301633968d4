import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { runCli } from '../../lib/cli/main.js'

export interface CliRun {
  code: number | null
  stdout: string
  stderr: string
}

/** The CLI's entry, as package.json's `bin` runs it once built. */
const BIN = join(__dirname, '..', '..', 'lib', 'cli', 'bin.ts')

/**
 * Runs `fastify-anon-key <args>` as a process, with DATABASE_URL, REDIS_URL and JWT_SECRET unset unless `env`
 * sets them, and the test runner's own Node flags so that it loads TypeScript as tap does and its coverage
 * merges with the run's.
 */
export function runBin (args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const child = spawn(process.execPath, [...process.execArgv, BIN, ...args], {
    env: { ...process.env, DATABASE_URL: undefined, REDIS_URL: undefined, JWT_SECRET: undefined, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => { stdout += chunk })
  child.stderr.on('data', (chunk) => { stderr += chunk })
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })))
}

/** The same CLI called in this process, for the many ways a command line can be wrong. */
export async function runInProcess (args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  let stdout = ''
  let stderr = ''
  const code = await runCli(args, {
    stdout: { write: (text: string) => { stdout += text } },
    stderr: { write: (text: string) => { stderr += text } },
    env
  })
  return { code, stdout, stderr }
}
