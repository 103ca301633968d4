// Every relative link of the installed package's README.md, docs/*.md and bench/README.md points at a file the
// package ships, and every #anchor at a heading of its target, so that the docs read from node_modules (or an
// editor's preview of them) lead somewhere. Files the package does not ship are linked on the repository.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'

const root = join('node_modules', 'fastify-anon-key')
const documents = ['README.md', 'bench/README.md', ...readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)]

/** The anchors GitHub gives a Markdown file's headings. */
function anchorsOf (file) {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '')
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map(([, heading]) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-')))
}

const problems = []
let count = 0
for (const document of documents) {
  const file = join(root, document)
  // Links outside code blocks and code spans, where Markdown makes them.
  const prose = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '')
  for (const [, target, anchor] of prose.matchAll(/\]\(([^)#\s]*)(?:#([^)\s]*))?\)/g)) {
    if (/^[a-z]+:/.test(target)) continue
    count++
    const resolved = target === '' ? file : join(dirname(file), target)
    const shown = `${document} → ${target}${anchor === undefined ? '' : `#${anchor}`}`
    if (!existsSync(resolved) || !relative(root, resolved).split('/').every((part) => part !== '..')) problems.push(`${shown}: the package does not ship it`)
    else if (anchor !== undefined && statSync(resolved).isFile() && resolved.endsWith('.md') && !anchorsOf(resolved).has(anchor)) problems.push(`${shown}: no such heading`)
  }
}
if (problems.length > 0) {
  console.error(`package check: links that lead nowhere in the installed package:\n  ${problems.join('\n  ')}`)
  process.exit(1)
}
console.log(`Doc links: all ${count} relative links of ${documents.length} documents resolve in the installed package`)
