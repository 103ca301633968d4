import { fork, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'

/** Extra node flags for every child, e.g. --cpu-prof when the run is profiled. */
let extraFlags: string[] = []

export function setChildFlags (flags: string[]): void {
  extraFlags = flags
}

interface Reply { id: number, result?: unknown, error?: string }

/** A benchmark child process that answers commands over IPC (see serve() in the child). */
export class Child {
  readonly name: string
  private readonly process: ChildProcess
  private readonly pending = new Map<number, { resolve: (value: any) => void, reject: (error: Error) => void }>()
  private nextId = 0
  private exited: Error | null = null

  constructor (file: string, args: string[], name: string, flags: string[] = []) {
    this.name = name
    // process.execArgv carries tsx's loader, so the child runs TypeScript too.
    this.process = fork(join(__dirname, file), args, { execArgv: [...process.execArgv, ...extraFlags, ...flags], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    if (extraFlags.length > 0) console.log(`${name}: pid ${this.process.pid}, node ${extraFlags.join(' ')}`)
    this.process.on('message', (message: Reply) => {
      const waiter = this.pending.get(message.id)
      if (waiter === undefined) return
      this.pending.delete(message.id)
      if (message.error !== undefined) waiter.reject(new Error(`${this.name}: ${message.error}`))
      else waiter.resolve(message.result)
    })
    this.process.on('exit', (code, signal) => {
      this.exited = new Error(`${this.name} exited (code ${code}, signal ${signal})`)
      for (const waiter of this.pending.values()) waiter.reject(this.exited)
      this.pending.clear()
    })
  }

  get pid (): number | undefined {
    return this.process.pid
  }

  request<T> (command: string, payload?: unknown): Promise<T> {
    if (this.exited !== null) return Promise.reject(this.exited)
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      this.process.send({ id, command, payload })
    })
  }

  /** Asks the child to close cleanly and waits until it has exited. */
  async close (): Promise<void> {
    if (this.exited !== null) return
    const exit = new Promise<void>((resolve) => this.process.once('exit', () => resolve()))
    await this.request('close').catch(() => {})
    await exit
  }
}

/** Runs a child that does one job: it answers the single command 'run' and then exits. */
export async function runChild<T> (file: string, args: string[], name: string, flags: string[] = []): Promise<T> {
  const child = new Child(file, args, name, flags)
  try {
    return await child.request<T>('run')
  } finally {
    await child.close()
  }
}

type Handler = (payload: any) => unknown

/** Inside a child: answers the parent's commands with `handlers`; 'close' runs `close` and exits. */
export function serve (handlers: Record<string, Handler>, close: () => Promise<void> = async () => {}): void {
  const orphaned = (): never => process.exit(1) // the parent died: never outlive it
  process.on('disconnect', orphaned)
  process.on('message', (message: { id: number, command: string, payload: unknown }) => {
    const send = (reply: Omit<Reply, 'id'>): void => { process.send?.({ id: message.id, ...reply }) }
    if (message.command === 'close') {
      close().then(() => send({ result: null }), (error: unknown) => send({ error: String(error) })).finally(() => {
        process.off('disconnect', orphaned)
        process.exit(0)
      })
      return
    }
    const handler = handlers[message.command]
    if (handler === undefined) {
      send({ error: `unknown command ${message.command}` })
      return
    }
    Promise.resolve().then(() => handler(message.payload)).then(
      (result) => send({ result }),
      (error: unknown) => send({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) })
    )
  })
}
