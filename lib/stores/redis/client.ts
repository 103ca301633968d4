/**
 * What the Redis store uses of an ioredis client (a Redis or a Cluster). Declared here, structurally, so that
 * the package's types do not require ioredis to be installed by users of the other stores.
 */
export interface RedisClient {
  hmget (key: string, ...fields: string[]): Promise<Array<string | null>>
  hgetall (key: string): Promise<Record<string, string>>
  zrevrange (key: string, start: number, stop: number): Promise<string[]>
  evalsha (sha: string, numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<unknown>
  eval (script: string, numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<unknown>
  duplicate (): RedisConnection
}

/** A connection of the store's own, made with `client.duplicate()`, used to listen to the change channel. */
export interface RedisConnection {
  readonly status: string
  connect (): Promise<void>
  subscribe (channel: string): Promise<unknown>
  disconnect (): void
  on (event: string, listener: (...args: any[]) => void): unknown
  once (event: string, listener: (...args: any[]) => void): unknown
  off (event: string, listener: (...args: any[]) => void): unknown
}
