import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface ExampleScript {
  output: () => string
  /** The exit code, once the script has ended. */
  exited: Promise<number | null>
  /** The first match of `pattern` in the output; rejects, with the output, if the script ends first or after 30 s. */
  waitFor: (pattern: RegExp) => Promise<RegExpMatchArray>
  /** SIGTERM, then the exit code. */
  stop: () => Promise<number | null>
}

/**
 * Runs examples/<file> as a script, as a user would, on a free port, with JWT_SECRET and NODE_ENV unset unless
 * `env` sets them, and ANON_KEY_DB (where `npm start` keeps the key) a new file removed at the end. The child
 * gets the test runner's own Node flags, so it loads TypeScript as tap does and its
 * coverage merges with the run's (a child under tsx transpiles lib/ differently and corrupts the merged report).
 */
export function runExampleScript (t: { teardown: (fn: () => unknown) => void }, file: string, env: Record<string, string | undefined> = {}): ExampleScript {
  const folder = mkdtempSync(join(tmpdir(), 'anon-key-example-'))
  t.teardown(() => rmSync(folder, { recursive: true, force: true }))
  const child = spawn(process.execPath, [...process.execArgv, join(__dirname, '..', '..', 'examples', file)], {
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'warn', JWT_SECRET: undefined, NODE_ENV: undefined, ANON_KEY_DB: join(folder, 'keys.db'), ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (chunk) => { output += chunk })
  child.stderr.on('data', (chunk) => { output += chunk })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  return {
    output: () => output,
    exited,
    async waitFor (pattern) {
      for (let waited = 0; waited < 30_000; waited += 20) {
        const match = pattern.exec(output)
        if (match !== null) return match
        if (child.exitCode !== null) break
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      const match = pattern.exec(output)
      if (match !== null) return match
      throw new Error(`${file}: no ${pattern} (${child.exitCode === null ? 'after 30 s' : `exited with ${child.exitCode}`}); output:\n${output}`)
    },
    stop () {
      child.kill('SIGTERM')
      return exited
    }
  }
}
