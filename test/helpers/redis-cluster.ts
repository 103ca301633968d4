import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Cluster, Redis, type ClusterOptions } from 'ioredis'
import type { Test } from 'tap'
import { eventually } from './eventually.js'
import { freePort } from './free-port.js'
import { IN_CI, type Teardown } from './services.js'

/** The Redis Cluster bus listens on the node's port + 10000. */
const BUS_OFFSET = 10_000
/**
 * How long a node may be unreachable before the others mark it failed and its replica takes over. Short, so a
 * failover takes seconds, not the default 15 s; not so short that a busy two-core machine fakes a failure.
 */
export const CLUSTER_NODE_TIMEOUT_MS = 2000

export interface ClusterSettings {
  /** The nodes' cluster-node-timeout. Default: CLUSTER_NODE_TIMEOUT_MS. */
  nodeTimeoutMs?: number
}

export interface ClusterNode {
  host: string
  port: number
}

export interface LocalRedisCluster {
  /** The six nodes, in the order they were created: the first three started as masters. */
  nodes: ClusterNode[]
  /** A Cluster client of the test's own on these startup nodes (all six unless given), disconnected when the test ends. */
  client (options?: ClusterOptions, startupNodes?: ClusterNode[]): Cluster
  /** A plain connection to one node, for CLUSTER, CLIENT and INFO commands; disconnected when the test ends. */
  node (node: ClusterNode): Redis
  /** The master that serves `key` now, and its replicas, as seen by a node that answers. */
  shardOf (key: string): Promise<{ master: ClusterNode, replicas: ClusterNode[] }>
  /** How many subscriber connections (ioredis Cluster subscribers included) each node holds, by port. */
  subscribers (nodes: ClusterNode[]): Promise<Record<number, number>>
  /** Kills the node's process at once (SIGKILL), as a crashed machine would. */
  kill (node: ClusterNode): void
  /** Freezes the node's process (SIGSTOP): its connections stay open and nothing answers, a half-open link. */
  pause (node: ClusterNode): void
  resume (node: ClusterNode): void
  /** Resolves when every live node says cluster_state:ok and agrees on one master per slot range. */
  waitUntilHealthy (timeoutMs?: number): Promise<void>
}

/** The cluster's probes answer in milliseconds; polling them more often only loads the two cores. */
const POLL = { pollMs: 50 }

const sameNode = (a: ClusterNode, b: ClusterNode): boolean => a.host === b.host && a.port === b.port

/** Redis's own tools, or the reason they cannot be used. */
function missingTools (): string | null {
  for (const tool of ['redis-server', 'redis-cli']) {
    const found = spawnSync(tool, ['--version'], { encoding: 'utf8' })
    if (found.error !== undefined) return `${tool} is not installed (apt-get install -y redis-server redis-tools)`
  }
  return null
}

/**
 * Runs `define` with a fresh six-node Redis Cluster (3 masters, 3 replicas) on loopback, started for this
 * subtest and stopped when it ends. Without redis-server the subtest is skipped with a message; under CI=true
 * it fails instead.
 */
export function onRedisCluster (t: Test, name: string, define: (t: Test, cluster: LocalRedisCluster) => Promise<void>, settings: ClusterSettings = {}): void {
  t.test(name, async (t) => {
    const problem = missingTools()
    if (problem !== null) {
      if (IN_CI) t.fail(`${problem}. CI=true: a missing Redis fails the run.`)
      else t.plan(0, `${problem}: the Redis Cluster tests are skipped.`)
      return
    }
    await define(t, await startRedisCluster(t, settings))
  })
}

/**
 * Starts six `redis-server --cluster-enabled yes` processes on free ports in a temporary directory (no
 * persistence), joins them with `redis-cli --cluster create … --cluster-replicas 1`, and waits until the cluster
 * serves every slot with every replica in sync. Everything started is stopped, and the directory removed, when
 * the test ends, also when the start fails half way; a watchdog stops the servers if the test process dies.
 */
export async function startRedisCluster (t: Teardown, { nodeTimeoutMs = CLUSTER_NODE_TIMEOUT_MS }: ClusterSettings = {}): Promise<LocalRedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'anon-key-cluster-'))
  const processes = new Map<number, ChildProcess>()
  const connections: Array<{ disconnect: () => void }> = []
  let watchdog: ChildProcess | null = null
  const stopAll = (): void => {
    for (const connection of connections) connection.disconnect()
    for (const child of processes.values()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    watchdog?.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
  t.teardown(stopAll)
  process.once('exit', stopAll)
  t.teardown(() => { process.off('exit', stopAll) })

  const nodes: ClusterNode[] = []
  for (let i = 0; i < 6; i++) {
    // A node just spawned may not listen yet, so the system can hand its port out again.
    let port = await freePort([BUS_OFFSET])
    while (nodes.some((node) => node.port === port)) port = await freePort([BUS_OFFSET])
    const nodeDir = join(dir, String(port))
    mkdirSync(nodeDir)
    const child = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', nodeDir, '--logfile', 'redis.log',
      '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
      '--cluster-node-timeout', String(nodeTimeoutMs),
      // Replicas ping their master every second, so CLUSTER SLOTS lists them (it hides a replica at offset 0).
      '--repl-ping-replica-period', '1',
      '--save', '', '--appendonly', 'no'
    ], { stdio: 'ignore' })
    child.on('error', () => {})
    processes.set(port, child)
    nodes.push({ host: '127.0.0.1', port })
  }
  const pids = [...processes.values()].map((child) => child.pid).join(' ')
  watchdog = spawn('sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -9 ${pids} 2>/dev/null`], { stdio: 'ignore', detached: true })
  watchdog.unref()

  const node = (target: ClusterNode): Redis => {
    const connection = new Redis({
      host: target.host,
      port: target.port,
      maxRetriesPerRequest: 1,
      connectTimeout: 1000,
      retryStrategy: () => 200,
      lazyConnect: false
    })
    connection.on('error', () => {})
    connections.push(connection)
    return connection
  }
  const probes = new Map(nodes.map((target) => [target.port, node(target)]))
  const alive = (target: ClusterNode): boolean => {
    const child = processes.get(target.port)
    return child !== undefined && child.exitCode === null && child.signalCode === null
  }
  const paused = new Set<number>()
  const answering = (): ClusterNode[] => nodes.filter((target) => alive(target) && !paused.has(target.port))

  for (const target of nodes) await eventually(`redis-server on port ${target.port} to answer`, async () => (await probes.get(target.port)?.ping().catch(() => null)) === 'PONG', 10_000, POLL)
  const created = spawnSync('redis-cli', ['--cluster', 'create', ...nodes.map(({ host, port }) => `${host}:${port}`), '--cluster-replicas', '1', '--cluster-yes'], { encoding: 'utf8', timeout: 60_000 })
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed (${created.status}): ${created.stdout}\n${created.stderr}`)

  async function shardOf (key: string): Promise<{ master: ClusterNode, replicas: ClusterNode[] }> {
    const [asked] = answering()
    const probe = probes.get(asked.port) as Redis
    const slot = await probe.cluster('KEYSLOT', key) as number
    for (const [start, end, master, ...replicas] of await probe.cluster('SLOTS')) {
      if (slot >= start && slot <= end) return { master: { host: master[0], port: master[1] }, replicas: replicas.map(([host, port]) => ({ host, port })) }
    }
    throw new Error(`no node serves slot ${slot} of ${key}`)
  }

  async function waitUntilHealthy (timeoutMs = 30_000): Promise<void> {
    await eventually('the Redis Cluster to be healthy (cluster_state:ok on every live node, every replica in sync)', async () => {
      for (const target of answering()) {
        const probe = probes.get(target.port) as Redis
        const info = await probe.cluster('INFO').catch(() => '') as string
        if (!info.includes('cluster_state:ok') || !info.includes('cluster_slots_ok:16384')) return false
        const replication = await probe.info('replication').catch(() => '')
        if (replication.includes('role:slave') && !replication.includes('master_link_status:up')) return false
      }
      return true
    }, timeoutMs, POLL)
  }
  await waitUntilHealthy()
  await eventually('CLUSTER SLOTS to list a replica for each of the three masters', async () => {
    const ranges = await (probes.get(nodes[0].port) as Redis).cluster('SLOTS') as unknown[][]
    return ranges.length === 3 && ranges.every((range) => range.length === 4)
  }, 30_000, POLL)

  const processOf = (target: ClusterNode): ChildProcess => {
    const child = processes.get(target.port)
    if (child === undefined) throw new Error(`no node of this cluster listens on ${target.port}`)
    return child
  }
  return {
    nodes,
    client (options = {}, startupNodes = nodes) {
      const client = new Cluster(startupNodes, options)
      client.on('error', () => {})
      connections.push(client)
      t.teardown(() => { client.disconnect() })
      return client
    },
    node,
    shardOf,
    async subscribers (targets) {
      const counts: Record<number, number> = {}
      for (const target of targets) {
        const list = await (probes.get(target.port) as Redis).call('CLIENT', 'LIST', 'TYPE', 'pubsub') as string
        counts[target.port] = list.split('\n').filter((line) => line.includes('sub=')).length
      }
      return counts
    },
    kill (target) {
      processOf(target).kill('SIGKILL')
      paused.delete(target.port)
    },
    pause (target) {
      processOf(target).kill('SIGSTOP')
      paused.add(target.port)
    },
    resume (target) {
      processOf(target).kill('SIGCONT')
      paused.delete(target.port)
    },
    waitUntilHealthy
  }
}

export { sameNode }
