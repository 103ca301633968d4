import { createServer, connect, type Server, type Socket } from 'node:net'

/**
 * A TCP proxy on 127.0.0.1 in front of a real server, for outage tests: `cut()` drops every connection and
 * refuses new ones (connections hang, as on a dead network, when `mode` is 'blackhole'), `restore()` lets
 * traffic through again.
 */
export interface TcpProxy {
  port: number
  cut (mode?: 'refuse' | 'blackhole'): void
  restore (): void
  close (): Promise<void>
}

export async function startTcpProxy (targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
  let state: 'open' | 'refuse' | 'blackhole' = 'open'
  const server: Server = createServer((client) => {
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    client.on('error', () => {})
    if (state === 'refuse') { client.destroy(); return }
    if (state === 'blackhole') { client.pause(); return }
    const upstream = connect(targetPort, targetHost)
    sockets.add(upstream)
    upstream.on('close', () => { sockets.delete(upstream); client.destroy() })
    upstream.on('error', () => client.destroy())
    client.on('close', () => upstream.destroy())
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return {
    port,
    cut (mode = 'refuse') {
      state = mode
      for (const socket of sockets) {
        if (mode === 'refuse') socket.destroy()
        else socket.pause()
      }
    },
    restore () {
      if (state === 'blackhole') for (const socket of sockets) socket.destroy()
      state = 'open'
    },
    async close () {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
