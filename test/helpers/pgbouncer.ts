import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Pool } from 'pg'
import type { Test } from 'tap'
import { freePort } from './free-port.js'
import { onPostgres } from './postgres.js'
import { DATABASE_URL, IN_CI, type Teardown } from './services.js'

export interface LocalPgBouncer {
  /** DATABASE_URL, reached through PgBouncer in transaction mode: what a host's pooled URL looks like. */
  url: string
  /** PgBouncer's port on 127.0.0.1. */
  port: number
  /** What PgBouncer logged so far. */
  log (): string
}

/** The pgbouncer program: on the PATH, or where Debian's package puts it. */
export function pgbouncerPath (): string | null {
  const found = spawnSync('pgbouncer', ['--version'], { encoding: 'utf8' })
  if (found.error === undefined) return 'pgbouncer'
  return existsSync('/usr/sbin/pgbouncer') ? '/usr/sbin/pgbouncer' : null
}

/**
 * Runs `define` with a PgBouncer of its own in front of the test database, in transaction mode, started for
 * this subtest and stopped when it ends. Without PostgreSQL or pgbouncer the subtest is skipped with a message;
 * under CI=true it fails instead.
 */
export function onPgBouncer (t: Test, name: string, define: (t: Test, bouncer: LocalPgBouncer) => Promise<void>): void {
  onPostgres(t, (t) => {
    t.test(name, async (t) => {
      const program = pgbouncerPath()
      if (program === null) {
        const problem = 'pgbouncer is not installed (apt-get install -y pgbouncer)'
        if (IN_CI) t.fail(`${problem}. CI=true: a missing pooler fails the run.`)
        else t.plan(0, `${problem}: the PgBouncer tests are skipped.`)
        return
      }
      await define(t, await startPgBouncer(t, program))
    })
  })
}

/**
 * Starts `pgbouncer <ini>` (with `-u postgres` when run as root, which PgBouncer refuses otherwise) in the
 * foreground on a free loopback port, `pool_mode = transaction`, `auth_type = trust`, in front of the database
 * of DATABASE_URL. Stopped, and its directory removed, when the test ends, also when the start fails.
 */
export async function startPgBouncer (t: Teardown, program: string): Promise<LocalPgBouncer> {
  const target = new URL(DATABASE_URL)
  const database = decodeURIComponent(target.pathname.slice(1))
  const user = decodeURIComponent(target.username || 'postgres')
  const dir = mkdtempSync(join(tmpdir(), 'anon-key-pgbouncer-'))
  // Run as postgres, PgBouncer must still write its log here.
  chmodSync(dir, 0o777)
  let child: ChildProcess | null = null
  const stop = (): void => {
    if (child !== null && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
  t.teardown(stop)
  process.once('exit', stop)
  t.teardown(() => { process.off('exit', stop) })

  const port = await freePort()
  const server = [`host=${target.hostname}`, `port=${target.port === '' ? 5432 : target.port}`, `dbname=${database}`, `user=${user}`]
  if (target.password !== '') server.push(`password=${decodeURIComponent(target.password)}`)
  writeFileSync(join(dir, 'users.txt'), `"${user}" ""\n`)
  writeFileSync(join(dir, 'pgbouncer.ini'), [
    '[databases]',
    `${database} = ${server.join(' ')}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = trust',
    `auth_file = ${join(dir, 'users.txt')}`,
    'pool_mode = transaction',
    'max_client_conn = 200',
    'default_pool_size = 10',
    `logfile = ${join(dir, 'pgbouncer.log')}`,
    'ignore_startup_parameters = extra_float_digits'
  ].join('\n') + '\n')

  const asRoot = process.getuid?.() === 0 ? ['-u', 'postgres'] : []
  child = spawn(program, [...asRoot, join(dir, 'pgbouncer.ini')], { stdio: 'ignore' })
  child.on('error', () => {})
  const watchdog = spawn('sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -9 ${child.pid} 2>/dev/null`], { stdio: 'ignore', detached: true })
  watchdog.unref()
  t.teardown(() => { watchdog.kill('SIGKILL') })

  const url = new URL(DATABASE_URL)
  url.hostname = '127.0.0.1'
  url.port = String(port)
  const log = (): string => {
    try {
      return readFileSync(join(dir, 'pgbouncer.log'), 'utf8')
    } catch {
      return ''
    }
  }
  const deadline = Date.now() + 10_000
  for (;;) {
    const probe = new Pool({ connectionString: url.toString(), max: 1, connectionTimeoutMillis: 1000 })
    probe.on('error', () => {})
    const answered = await probe.query('SELECT 1').then(() => true, () => false)
    await probe.end()
    if (answered) break
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`PgBouncer did not answer on port ${port} within 10 s; its log:\n${log()}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return { url: url.toString(), port, log }
}
