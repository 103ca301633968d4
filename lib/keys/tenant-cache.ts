import { Lru } from './lru.js'

/** Thrown by `TenantCache.load` when `maxLoads` loads are already in flight. */
export class TenantLoadsExhausted extends Error {
  constructor (maxLoads: number) {
    super(`${maxLoads} tenants are already being loaded from the key store; retry in a moment.`)
    this.name = 'TenantLoadsExhausted'
  }
}

export interface TenantCacheOptions<V> {
  /** How many tenants with keys are kept; beyond it the least recently used is dropped. */
  maxEntries: number
  /** How many tenants without keys are remembered as such, in their own LRU so that they never evict real ones. */
  maxEmptyEntries: number
  /** Loads in flight at once, cold loads and reloads of held tenants together; one more is refused. */
  maxLoads: number
  load: (tenant: string) => Promise<V>
  /** Whether a loaded value is a tenant without keys. */
  isEmpty: (value: V) => boolean
}

/**
 * The tenants whose keys this process holds, least-recently-used first. Tenants without keys are cached too,
 * in a second LRU, so that a flood of requests naming random tenants costs one store call per name and never
 * pushes out the tenants that do have keys. Concurrent first uses of one tenant share one load, and the loads
 * in flight at once, cold loads and reloads of held tenants alike, are bounded, so that neither a flood nor every
 * held tenant going stale at once can take the store down.
 */
export class TenantCache<V> {
  private readonly withKeys: Lru<V>
  private readonly empty: Lru<V>
  private readonly loading = new Map<string, Promise<V>>()
  private reloads = 0
  private readonly options: TenantCacheOptions<V>

  constructor (options: TenantCacheOptions<V>) {
    this.options = options
    this.withKeys = new Lru(options.maxEntries)
    this.empty = new Lru(options.maxEmptyEntries)
  }

  /** The cached value, now the most recently used, or undefined. Never calls the store. */
  get (tenant: string): V | undefined {
    return this.withKeys.get(tenant) ?? this.empty.get(tenant)
  }

  has (tenant: string): boolean {
    return this.withKeys.has(tenant) || this.empty.has(tenant)
  }

  /** The cached value, or one load from the store shared by every caller that asks meanwhile. */
  load (tenant: string): Promise<V> {
    const cached = this.get(tenant)
    if (cached !== undefined) return Promise.resolve(cached)
    const pending = this.loading.get(tenant)
    if (pending !== undefined) return pending
    if (this.loads >= this.options.maxLoads) return Promise.reject(new TenantLoadsExhausted(this.options.maxLoads))
    const load = this.options.load(tenant).then((value) => {
      // A value set meanwhile (by a change made in this process) is newer than what this load read.
      if (!this.has(tenant)) this.set(tenant, value)
      return this.get(tenant) as V
    }).finally(() => { this.loading.delete(tenant) })
    this.loading.set(tenant, load)
    return load
  }

  /**
   * Runs `reload` (a held tenant's reload from the store) within the bound on loads in flight, and returns its
   * promise; null, without running it, when `maxLoads` loads are in flight already.
   */
  withinLoads (reload: () => Promise<void>): Promise<void> | null {
    if (this.loads >= this.options.maxLoads) return null
    this.reloads += 1
    return reload().finally(() => { this.reloads -= 1 })
  }

  /** Stores a tenant's value, in the LRU that fits it, as the most recently used. */
  set (tenant: string, value: V): void {
    const [target, other] = this.options.isEmpty(value) ? [this.empty, this.withKeys] : [this.withKeys, this.empty]
    other.delete(tenant)
    target.set(tenant, value)
  }

  /** Replaces a tenant's value only if it is cached (a notification for a tenant nobody asked about is ignored). */
  replace (tenant: string, value: V): void {
    if (this.has(tenant)) this.set(tenant, value)
  }

  /** Every cached tenant, with keys or without. */
  tenants (): string[] {
    return [...this.withKeys.keys(), ...this.empty.keys()]
  }

  get size (): number {
    return this.withKeys.size + this.empty.size
  }

  /** Loads in flight now: cold loads and reloads. */
  get loads (): number {
    return this.loading.size + this.reloads
  }
}
