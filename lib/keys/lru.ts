interface Node<V> {
  key: string
  value: V
  older: Node<V>
  newer: Node<V>
}

/**
 * A map of at most `limit` entries that drops the least recently used beyond it. The order is a doubly linked
 * list beside the Map, so a hit only relinks one node.
 *
 * Not a Map re-insertion (`delete` then `set`) on every hit: V8 keeps a Map's deleted entries as holes until it
 * rebuilds the table, copying every live entry, and a Map near its capacity is rebuilt every few dozen hits. With
 * 1,000 tenants cached that made the lookup of a tenant cost many times the verification (bench/README.md).
 */
export class Lru<V> {
  private readonly nodes = new Map<string, Node<V>>()
  /** The list's sentinel: `head.newer` is the least recently used node, `head.older` the most recent. */
  private readonly head: Node<V>
  private readonly limit: number

  constructor (limit: number) {
    this.limit = limit
    const head = { key: '', value: undefined } as unknown as Node<V>
    head.older = head
    head.newer = head
    this.head = head
  }

  /** The value, now the most recently used, or undefined. */
  get (key: string): V | undefined {
    const node = this.nodes.get(key)
    if (node === undefined) return undefined
    if (node !== this.head.older) this.toNewest(node)
    return node.value
  }

  has (key: string): boolean {
    return this.nodes.has(key)
  }

  /** Sets the value as the most recently used; beyond the limit, the least recently used entry is dropped. */
  set (key: string, value: V): void {
    const node = this.nodes.get(key)
    if (node !== undefined) {
      node.value = value
      this.toNewest(node)
      return
    }
    const added = { key, value, older: this.head.older, newer: this.head }
    this.head.older.newer = added
    this.head.older = added
    this.nodes.set(key, added)
    if (this.nodes.size > this.limit) this.delete(this.head.newer.key)
  }

  delete (key: string): void {
    const node = this.nodes.get(key)
    if (node === undefined) return
    this.unlink(node)
    this.nodes.delete(key)
  }

  /** The keys, least recently used first. */
  keys (): string[] {
    const keys: string[] = []
    for (let node = this.head.newer; node !== this.head; node = node.newer) keys.push(node.key)
    return keys
  }

  get size (): number {
    return this.nodes.size
  }

  private toNewest (node: Node<V>): void {
    this.unlink(node)
    node.older = this.head.older
    node.newer = this.head
    this.head.older.newer = node
    this.head.older = node
  }

  private unlink (node: Node<V>): void {
    node.older.newer = node.newer
    node.newer.older = node.older
  }
}
