// Every code block of the installed package's README.md and docs/*.md is run, type-checked or parsed here, from the
// tarball, or says in an HTML comment on the line before it why not or what checks it:
//
//   <!-- run -->                    run as an ES module (TypeScript is compiled first), and must exit 0
//   <!-- given: app, pool -->       type-checked with these names declared (a fragment of a larger program)
//   <!-- checked by: <path> -->     a file of the repository that runs it, and names this document
//   <!-- not run: <why> -->         shown only, for the reason given
//   (nothing)                       ts and js blocks are type-checked; json blocks parsed; other languages fail
//
// Usage: node doc-blocks.mjs <repository root>. The type check is strict TypeScript in ES module mode, with the
// shipped declarations of fastify-anon-key and of the packages the blocks import.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const repository = process.argv[2]
const root = join('node_modules', 'fastify-anon-key')
const documents = ['README.md', ...readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)]

/** What a `given:` name declares: the values a fragment takes from the program around it. */
const GIVENS = {
  app: 'declare const app: import(\'fastify\').FastifyInstance',
  request: 'declare const request: import(\'fastify\').FastifyRequest',
  handler: 'declare const handler: import(\'fastify\').RouteHandlerMethod',
  verifyUserJwt: 'declare const verifyUserJwt: import(\'fastify\').onRequestHookHandler',
  auth: 'import \'@fastify/auth\'',
  audit: 'declare const audit: { write (...entries: unknown[]): unknown }',
  pool: 'declare const pool: import(\'pg\').Pool',
  url: 'declare const url: string',
  ANON_KEY: 'declare const ANON_KEY: string',
  anonKey: 'import anonKey from \'fastify-anon-key\'',
  fastifyAnonKey: 'import fastifyAnonKey from \'fastify-anon-key\'',
  anonKeyAdminPage: 'import { anonKeyAdminPage } from \'fastify-anon-key/admin-page\'',
  postgresStore: 'import { postgresStore } from \'fastify-anon-key\'',
  redisStore: 'import { redisStore } from \'fastify-anon-key\'',
  anonKeyRateLimit: 'import { anonKeyRateLimit } from \'fastify-anon-key\'',
  rateLimit: 'import rateLimit from \'@fastify/rate-limit\'',
  options: 'declare const options: import(\'fastify-anon-key\').FastifyAnonKeyOptions',
  redis: 'declare const redis: import(\'ioredis\').Redis',
  myProvider: 'declare const myProvider: { check (token: string): Promise<{ ok: boolean, expiresAt: number }> }',
  PROJECT_NUMBER: 'declare const PROJECT_NUMBER: string',
  PLAY_SIGNING_SHA1: 'declare const PLAY_SIGNING_SHA1: string'
}

const LANGUAGES = { ts: 'ts', typescript: 'ts', js: 'js', javascript: 'js', mjs: 'js' }

const problems = []
const blocks = []
for (const document of documents) {
  const lines = readFileSync(join(root, document), 'utf8').split('\n')
  for (let index = 0; index < lines.length; index++) {
    const fence = /^```(\S*)\s*$/.exec(lines[index])
    if (fence === null) continue
    const end = lines.indexOf('```', index + 1)
    const before = lines.slice(0, index).reverse().find((line) => line.trim() !== '') ?? ''
    const directive = /^<!-- (run|given|checked by|not run)(?::\s*(.*?))? -->$/.exec(before.trim())
    blocks.push({ document, line: index + 1, language: fence[1], code: lines.slice(index + 1, end).join('\n') + '\n', mode: directive?.[1] ?? null, argument: directive?.[2] ?? '' })
    index = end
  }
}

const typeChecked = []
const runs = []
const counts = { run: 0, 'type-checked': 0, parsed: 0, 'checked by': 0, 'not run': 0 }
mkdirSync('doc-blocks', { recursive: true })
for (const block of blocks) {
  const where = `${block.document}:${block.line}`
  const kind = LANGUAGES[block.language]
  const file = join('doc-blocks', `${block.document.replace(/[/.]/g, '-')}-${block.line}.mts`)
  if (block.mode === 'not run') {
    if (block.argument === '') problems.push(`${where}: "not run" must say why`)
    counts['not run']++
  } else if (block.mode === 'checked by') {
    const checker = join(repository, block.argument)
    if (!existsSync(checker)) problems.push(`${where}: checked by ${block.argument}, which the repository does not have`)
    else if (!readFileSync(checker, 'utf8').includes(block.document)) problems.push(`${where}: ${block.argument} does not name ${block.document}`)
    counts['checked by']++
  } else if (kind === undefined && block.mode === null && block.language === 'json') {
    try {
      JSON.parse(block.code)
      counts.parsed++
    } catch (error) {
      problems.push(`${where}: the JSON does not parse: ${error.message}`)
    }
  } else if (kind === undefined) {
    problems.push(`${where}: a \`\`\`${block.language || '(no language)'} block needs <!-- run -->, <!-- checked by: … -->, or <!-- not run: why -->`)
  } else {
    const names = block.mode === 'given' ? block.argument.split(',').map((name) => name.trim()) : []
    const unknown = names.filter((name) => GIVENS[name] === undefined)
    if (unknown.length > 0) problems.push(`${where}: given names this check does not know: ${unknown.join(', ')}`)
    const prelude = ['import \'fastify-anon-key\'', ...names.map((name) => GIVENS[name] ?? '')].join('\n')
    // The prelude is one line, so that the compiler's line numbers are the block's, plus one.
    writeFileSync(file, `${prelude.replace(/\n/g, '; ')}\n${block.code}`)
    typeChecked.push({ block, file })
    if (block.mode === 'run') runs.push({ block, file })
    counts[block.mode === 'run' ? 'run' : 'type-checked']++
  }
}

// One strict type check of every ts and js block, each a module of its own.
const tsc = spawnSync('npx', ['tsc', '--strict', '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', ...typeChecked.map(({ file }) => file)], { encoding: 'utf8' })
const failed = new Set()
if (tsc.status !== 0) {
  for (const { block, file } of typeChecked) {
    for (const [, line, message] of tsc.stdout.matchAll(new RegExp(`^${file.replace(/[.]/g, '\\.')}\\((\\d+),\\d+\\): (.*)$`, 'gm'))) {
      problems.push(`${block.document}:${block.line + Number(line) - 1}: ${message}`)
      failed.add(file)
    }
  }
  if (failed.size === 0) problems.push(`the type check failed:\n${tsc.stdout}${tsc.stderr}`)
}

// The blocks marked run that type-check, compiled to JavaScript and run from the consumer project, where
// fastify-anon-key resolves.
const runnable = runs.filter(({ file }) => !failed.has(file))
if (runnable.length > 0) {
  const emit = spawnSync('npx', ['tsc', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--outDir', 'doc-blocks', ...runnable.map(({ file }) => file)], { encoding: 'utf8' })
  if (emit.status !== 0) problems.push(`compiling the blocks to run failed:\n${emit.stdout}${emit.stderr}`)
  for (const { block, file } of emit.status === 0 ? runnable : []) {
    const run = spawnSync(process.execPath, [file.replace(/\.mts$/, '.mjs')], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, JWT_SECRET: 'doc-blocks-check-secret-of-32-chars!' } })
    if (run.status !== 0) problems.push(`${block.document}:${block.line}: exited ${run.status ?? run.signal}:\n${run.stdout}${run.stderr}`)
  }
}

if (problems.length > 0) {
  console.error(`package check: code blocks of the docs that do not work as written:\n  ${problems.join('\n  ')}`)
  process.exit(1)
}
console.log(`Doc blocks: ${blocks.length} blocks of ${documents.length} documents: ${Object.entries(counts).map(([mode, count]) => `${count} ${mode}`).join(', ')}`)
