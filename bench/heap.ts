const gc = (globalThis as { gc?: () => void }).gc

/** Heap in use once garbage collection has settled; the bench part must run with --expose-gc. */
export async function settledHeap (): Promise<number> {
  if (gc === undefined) throw new Error('run with --expose-gc')
  for (let i = 0; i < 4; i++) {
    await new Promise((resolve) => setImmediate(resolve))
    gc()
  }
  return process.memoryUsage().heapUsed
}
