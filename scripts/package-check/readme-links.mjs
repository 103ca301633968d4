// Every relative link of the installed package's README points at a file the package ships, so that the README
// read from node_modules (or an editor's preview of it) leads somewhere.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const root = join('node_modules', 'fastify-anon-key')
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const targets = [...readme.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)].map(([, target]) => target).filter((target) => !/^[a-z]+:/.test(target))
const missing = [...new Set(targets)].filter((target) => !existsSync(join(root, target)))
if (missing.length > 0) {
  console.error(`package check: the README links to files the package does not ship: ${missing.join(', ')}`)
  process.exit(1)
}
console.log(`README links: all ${targets.length} relative links resolve in the installed package`)
