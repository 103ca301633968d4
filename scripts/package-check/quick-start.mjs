// Runs the Quick start of README.md as written, from the installed tarball: its server.mjs, then its shell lines in
// order (JWT_SECRET, the server in the background, a token from the CLI, the key, the guarded route). The one
// change is the port: 3000 becomes a free one, so that the check never collides with what a machine runs.
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'

const readme = readFileSync(process.argv[2], 'utf8')
const section = readme.slice(readme.indexOf('\n## Quick start'), readme.indexOf('\n## ', readme.indexOf('\n## Quick start') + 1))
const blocks = [...section.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map(([, language, code]) => ({ language, code }))
const server = blocks.find(({ language, code }) => language === 'js' && code.startsWith('// server.mjs'))
const shell = blocks.filter(({ language }) => language === 'sh').map(({ code }) => code)
if (server === undefined || shell.length !== 2) fail(`expected server.mjs and two sh blocks in the Quick start, found ${blocks.length} blocks`)

const port = await freePort()
const withPort = (code) => code.replaceAll('port: 3000', `port: ${port}`).replaceAll('localhost:3000', `localhost:${port}`)
writeFileSync('server.mjs', withPort(server.code))
const [start, tryIt] = shell.map(withPort)
if (!start.includes('node server.mjs &')) fail('the Quick start no longer starts server.mjs in the background')

const script = `set -euo pipefail
trap 'kill $(jobs -p) 2>/dev/null' EXIT
${start}
for i in $(seq 100); do curl -s localhost:${port} >/dev/null && break; sleep 0.1; done
${tryIt}`
const run = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 60_000 })
if (run.status !== 0 || !run.stdout.includes('{"role":"anon"}')) {
  fail(`exit ${run.status}, the guarded route did not answer {"role":"anon"}\n${run.stdout}\n${run.stderr}`)
}
console.log('Quick start: ran as written, the guarded route answered {"role":"anon"}')

function fail (why) {
  console.error(`package check: README Quick start: ${why}`)
  process.exit(1)
}

function freePort () {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address()
      probe.close(() => resolve(port))
    })
  })
}
