/**
 * The hook's cost in this tree against another checkout of the project (an older commit), in one process and
 * one run: each tree's public entry registers the plugin on a Fastify app of its own, and verifyAnonKey is called
 * as Fastify calls it, with a new header string each call, in interleaved rounds. Prints the median ns per call
 * (process CPU time over calls) and the ratio this tree / the other.
 * Run: npx tsx bench/compare-trees.ts <path of the other checkout, with its node_modules>
 */
import { resolve } from 'node:path'
import { median } from './stats.js'

type Hook = (request: unknown, reply: unknown, done: (error?: unknown) => void) => void
interface Tree { label: string, cases: Record<string, { hook: Hook, key: string, tenants?: number }> }

const CALLS = 200_000
const ROUNDS = 9
const TENANTS = 1000

async function load (label: string, root: string): Promise<Tree> {
  const Fastify = (await import(resolve(root, 'node_modules/fastify/fastify.js'))).default
  const entry = await import(resolve(root, 'lib/index.ts'))
  const plugin = entry.default?.default ?? entry.default
  const single = Fastify()
  await single.register(plugin, { store: entry.memoryStore(), authorize: () => true })
  await single.ready()
  const previous = await single.anonKey.get()
  const current = (await single.anonKey.rotate({ gracePeriodHours: 1 })).anonKey
  const tenant = Fastify()
  await tenant.register(plugin, { store: entry.memoryStore(), authorize: () => true, tenant: (request: { headers: Record<string, string> }) => request.headers['x-tenant'] })
  await tenant.ready()
  const tenantKeys: string[] = []
  for (let i = 0; i < TENANTS; i++) tenantKeys.push((await tenant.anonKey.forTenant(`tenant-${i}`).initialize()).anonKey)
  for (let i = 0; i < TENANTS; i++) await tenant.anonKey.forTenant(`tenant-${i}`).verify(tenantKeys[i])
  ;(globalThis as Record<string, unknown>)[`keys:${label}`] = tenantKeys
  return {
    label,
    cases: {
      'current key': { hook: single.verifyAnonKey, key: current },
      'previous key': { hook: single.verifyAnonKey, key: previous },
      'tenant, current key': { hook: tenant.verifyAnonKey, key: '', tenants: TENANTS }
    }
  }
}

function measure (tree: Tree, name: string): number {
  const { hook, key, tenants } = tree.cases[name]
  const keys = (globalThis as unknown as Record<string, string[]>)[`keys:${tree.label}`]
  const headers: Record<string, string> = { authorization: '' }
  const request = { headers, anonKey: null, log: { warn () {} } }
  const reply = { header () { return this } }
  let passed = 0
  const done = (error?: unknown): void => { if (error === undefined) passed++ }
  const start = process.cpuUsage()
  for (let i = 0; i < CALLS; i++) {
    if (tenants === undefined) headers.authorization = 'Bearer ' + key
    else {
      const index = (i * 7) % tenants
      headers['x-tenant'] = 'tenant-' + index
      headers.authorization = 'Bearer ' + keys[index]
    }
    hook(request, reply, done)
  }
  const used = process.cpuUsage(start)
  if (passed !== CALLS) throw new Error(`${tree.label} ${name}: ${CALLS - passed} calls refused`)
  return ((used.user + used.system) * 1000) / CALLS
}

async function main (): Promise<void> {
  const other = process.argv[2]
  if (other === undefined) throw new Error('Usage: npx tsx bench/compare-trees.ts <other checkout>')
  const trees = [await load('this tree', resolve(__dirname, '..')), await load('other', resolve(other))]
  for (const name of Object.keys(trees[0].cases)) {
    const samples = new Map(trees.map((tree) => [tree.label, [] as number[]]))
    for (let round = 0; round < ROUNDS; round++) {
      for (const tree of round % 2 === 0 ? trees : [...trees].reverse()) samples.get(tree.label)?.push(measure(tree, name))
    }
    const [mine, theirs] = trees.map((tree) => median(samples.get(tree.label) as number[]))
    console.log(`${name}: this tree ${mine.toFixed(0)} ns/call, other ${theirs.toFixed(0)} ns/call, ratio ${(mine / theirs).toFixed(3)}`)
  }
}
main()
