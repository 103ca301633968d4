import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** Where the two source documents live (copied from the project's seeds), overridable with SEEDS_DIR. */
export const SEEDS_DIR = process.env.SEEDS_DIR ?? join(__dirname, '..', 'fixtures', 'seeds')

type Yaml = string | number | boolean | null | Yaml[] | { [key: string]: Yaml }

interface Line { indent: number, text: string }

/**
 * Reads the YAML subset the seed documents use: nested maps and lists by indentation, `- item` lists,
 * folded `>-` strings, quoted and plain scalars, `[]`. Enough for these two files, not a general parser;
 * it throws on anything it does not understand, so a changed seed fails loudly instead of comparing wrong.
 */
export function parseSeedYaml (source: string): Yaml {
  const lines: Line[] = []
  for (const raw of source.split('\n')) {
    if (raw.trim() === '' || raw.trim().startsWith('#')) continue
    const indent = raw.length - raw.trimStart().length
    const text = raw.trim()
    const listItem = /^- (.*)$/.exec(text)
    if (listItem !== null && /^[\w'"-]+:( |$)/.test(listItem[1])) {
      // "- key: value" starts a map inside a list: split it into the list marker and the map's first line.
      lines.push({ indent, text: '-' }, { indent: indent + 2, text: listItem[1] })
    } else {
      lines.push({ indent, text })
    }
  }
  let at = 0

  function scalar (text: string): Yaml {
    if (text === '[]') return []
    if (text === '{}') return {}
    if (text === 'true' || text === 'false') return text === 'true'
    if (text === 'null') return null
    if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text)
    if (/^'.*'$/.test(text)) return text.slice(1, -1).replace(/''/g, "'")
    if (/^".*"$/.test(text)) return JSON.parse(text)
    if (/^[[{]/.test(text)) throw new Error(`seed YAML: flow collections are not supported: ${text}`)
    return text
  }

  function folded (indent: number): string {
    const words: string[] = []
    while (at < lines.length && lines[at].indent > indent) words.push(lines[at++].text)
    return words.join(' ')
  }

  function block (indent: number): Yaml {
    if (lines[at].text === '-' || lines[at].text.startsWith('- ')) {
      const list: Yaml[] = []
      while (at < lines.length && lines[at].indent === indent && (lines[at].text === '-' || lines[at].text.startsWith('- '))) {
        const { text } = lines[at++]
        list.push(text === '-' ? block(lines[at].indent) : scalar(text.slice(2)))
      }
      return list
    }
    const map: Record<string, Yaml> = {}
    while (at < lines.length && lines[at].indent === indent) {
      const match = /^('[^']*'|"[^"]*"|[^:]+):(?: (.*))?$/.exec(lines[at].text)
      if (match === null) throw new Error(`seed YAML: cannot read line "${lines[at].text}"`)
      at++
      const key = String(scalar(match[1]))
      const value = match[2]
      if (value === undefined) {
        map[key] = at < lines.length && lines[at].indent > indent ? block(lines[at].indent) : null
      } else if (value === '>-' || value === '>' || value === '|' || value === '|-') {
        map[key] = folded(indent)
      } else {
        map[key] = scalar(value)
      }
    }
    return map
  }

  const document = block(lines[0].indent)
  if (at !== lines.length) throw new Error(`seed YAML: stopped at line "${lines[at].text}"`)
  return document
}

/** The OpenAPI document inside a seed file's ```yaml fence. */
export function readSeed (prefix: '000' | '002'): any {
  const file = readFileSync(join(SEEDS_DIR, `${prefix}_${prefix === '000' ? '13d406abdf7a464d' : 'cea870f355b49cea'}.txt`), 'utf8')
  const fence = /````yaml[^\n]*\n([\s\S]*?)\n````/.exec(file)
  if (fence === null) throw new Error(`seed ${prefix}: no yaml fence`)
  return parseSeedYaml(fence[1])
}
