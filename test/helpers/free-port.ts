import { createServer } from 'node:net'

/** Resolves to true when nothing listens on 127.0.0.1:`port` (the port could be bound a moment ago). */
function isFree (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/**
 * A free port on 127.0.0.1, picked by the system, for a server the test starts itself. `alsoFree` offsets
 * (Redis Cluster's bus listens on port + 10000) must be free too. The port is only free when asked: start the
 * server soon after.
 */
export async function freePort (alsoFree: number[] = []): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const server = createServer()
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        const address = server.address()
        resolve(typeof address === 'object' && address !== null ? address.port : 0)
      })
    })
    await new Promise((resolve) => server.close(resolve))
    const others = alsoFree.map((offset) => port + offset)
    if (others.every((other) => other > 0 && other < 65536) && (await Promise.all(others.map(isFree))).every(Boolean)) return port
  }
  throw new Error('no free port on 127.0.0.1 after 50 attempts')
}
