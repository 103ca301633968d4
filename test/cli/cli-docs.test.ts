import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { postgresStore } from '../../lib/index.js'
import { maskStoreString } from '../../lib/cli/mask-passwords.js'
import { buildApp, JWT_SECRET } from '../helpers/app.js'
import { runInProcess } from '../helpers/cli.js'
import { createPool, onPostgres } from '../helpers/postgres.js'
import { DATABASE_URL, uniqueNamespace } from '../helpers/services.js'

/** The document whose ```console transcripts this file runs, in order, each command against a real PostgreSQL. */
const DOCUMENT = 'docs/cli.md'

/** What the transcripts show that differs from run to run: keys, fingerprints, tokens and times, by kind. */
const KINDS = { key: 'anon_[0-9a-f]{64}', token: 'eyJ[\\w-]+\\.[\\w-]+\\.[\\w-]+', time: '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z', fingerprint: '\\b[0-9a-f]{12}\\b' }
const VARIABLE = new RegExp(Object.values(KINDS).map((kind) => `(?:${kind})`).join('|'), 'g')

/** Which kind a value of a transcript is. */
function kindOf (value: string): keyof typeof KINDS {
  return (Object.keys(KINDS) as Array<keyof typeof KINDS>).find((kind) => new RegExp(`^${KINDS[kind]}$`).test(value)) as keyof typeof KINDS
}

interface Step {
  command: string
  expected: string[]
}

/** The transcripts of the document: each `$ ` line a command, the lines after it what it prints. */
function transcripts (text: string): Step[][] {
  return [...text.matchAll(/^```console\n([\s\S]*?)^```$/gm)].map(([, body]) => {
    const steps: Step[] = []
    for (const line of body.trimEnd().split('\n')) {
      if (line.startsWith('$ ')) steps.push({ command: line.slice(2), expected: [] })
      else steps[steps.length - 1].expected.push(line)
    }
    return steps
  })
}

/** Words of a command line as a POSIX shell splits them: quotes, and $NAME expanded from `env`. */
function words (line: string, env: Record<string, string>): string[] {
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g)].map(([, double, single, bare]) =>
    single ?? (double ?? bare).replace(/\$(\w+|\?)/g, (whole, name: string) => env[name] ?? whole))
}

/**
 * Matches what a command printed against the transcript's lines. A key, fingerprint or token of the transcript
 * stands for whatever the run printed in its place, the same one each time it appears (`bound`), so that a
 * transcript that names the key it rotated away must name it again where it is revoked.
 */
function matches (t: Test, expected: string[], printed: string[], bound: Map<string, string>, label: string): void {
  t.equal(printed.length, expected.length, `${label}: prints ${expected.length} lines (got ${JSON.stringify(printed)})`)
  for (const [index, line] of expected.entries()) {
    const values: string[] = []
    let source = '^'
    let last = 0
    for (const match of line.matchAll(VARIABLE)) {
      source += escape(line.slice(last, match.index)) + `(${KINDS[kindOf(match[0])]})`
      values.push(match[0])
      last = match.index + match[0].length
    }
    const found = new RegExp(`${source}${escape(line.slice(last))}$`).exec(printed[index] ?? '')
    if (found === null) {
      t.fail(`${label}, line ${index + 1}:\n  the document: ${line}\n  the CLI:      ${printed[index]}`)
      continue
    }
    for (const [at, value] of values.entries()) {
      if (kindOf(value) === 'time' || kindOf(value) === 'token') continue // any
      const actual = found[at + 1]
      const already = bound.get(value)
      if (already === undefined && [...bound.values()].includes(actual)) t.fail(`${label}: ${value} stands for ${actual}, which another value of the document stands for`)
      else if (already !== undefined && already !== actual) t.fail(`${label}: ${value} stood for ${already}, and now for ${actual}`)
      bound.set(value, actual)
    }
  }
}

function escape (literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

onPostgres(t, (t) => {
  t.test(`the transcripts of ${DOCUMENT} are what the CLI prints, run in order against the app of docs/postgres.md`, async (t) => {
    const namespace = uniqueNamespace('cli_docs')
    const pool = createPool(t)
    t.teardown(async () => {
      await pool.query('DELETE FROM anon_key_projects WHERE namespace = $1', [namespace])
      await pool.query('DELETE FROM anon_key_projects_retired WHERE namespace = $1', [namespace])
    })
    // The app of the PostgreSQL guide (namespace my-app), with the keys of a platform.
    const app = buildApp({ store: postgresStore({ pool, namespace }) })
    t.teardown(() => app.close())
    await app.ready()
    await app.anonKey.createKey({ name: 'web', description: 'Web app', allowedOrigins: ['https://app.example.com'] })
    await app.anonKey.createKey({ name: 'ios', description: 'iOS app' })

    // What the document shows for the values of the reader's machine, and what they are here.
    const local: Array<[string, string]> = [
      ['postgres://app:***@db.internal:5432/app', maskStoreString(DATABASE_URL)],
      ['my-app', namespace],
      ['my_app', uniqueNamespace('cli_docs_typo')]
    ]
    const bound = new Map<string, string>()
    let lastCode = 0
    const steps = transcripts(readFileSync(join(__dirname, '..', '..', DOCUMENT), 'utf8'))
    t.ok(steps.length >= 5, `the document has its transcripts (${steps.length})`)
    for (const step of steps.flat()) {
      const here = (text: string) => local.reduce((result, [shown, actual]) => result.replaceAll(shown, actual), text)
      const expected = step.expected.map(here)
      const command = here(step.command).replace(/\b[0-9a-f]{12}\b/g, (value) => bound.get(value) ?? value)
      if (command === 'echo $?') {
        t.same([String(lastCode)], expected, `echo $? prints ${lastCode}`)
        continue
      }
      const env: Record<string, string> = { DATABASE_URL }
      const [assignments, rest] = command.split(/(?=npx )/)
      for (const [, name, value] of (rest === undefined ? '' : assignments).matchAll(/(\w+)=(\S+)/g)) env[name] = value === '…' ? JWT_SECRET : value
      const [npx, bin, ...args] = words(rest ?? assignments, env)
      t.same([npx, bin], ['npx', 'fastify-anon-key'], `${step.command} runs the CLI`)
      const run = await runInProcess(args, env)
      lastCode = run.code ?? -1
      matches(t, expected, `${run.stdout}${run.stderr}`.trimEnd().split('\n'), bound, `$ ${step.command}`)
    }
  })
})
