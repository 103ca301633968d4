import t from 'tap'
import { Lru } from '../../lib/keys/lru.js'

function filled (limit: number, keys: string[]): Lru<string> {
  const lru = new Lru<string>(limit)
  for (const key of keys) lru.set(key, `value of ${key}`)
  return lru
}

t.test('keys come least recently used first, and a get moves a key to the newest end', async (t) => {
  const lru = filled(5, ['a', 'b', 'c', 'd'])
  t.same(lru.keys(), ['a', 'b', 'c', 'd'])
  t.equal(lru.get('b'), 'value of b', 'a key in the middle')
  t.same(lru.keys(), ['a', 'c', 'd', 'b'])
  t.equal(lru.get('a'), 'value of a', 'the oldest key')
  t.same(lru.keys(), ['c', 'd', 'b', 'a'])
  t.equal(lru.get('a'), 'value of a', 'the newest key stays where it is')
  t.same(lru.keys(), ['c', 'd', 'b', 'a'])
  t.equal(lru.get('z'), undefined)
  t.same(lru.keys(), ['c', 'd', 'b', 'a'], 'a miss changes nothing')
})

t.test('beyond the limit the least recently used key is dropped, never one just used', async (t) => {
  const lru = filled(3, ['a', 'b', 'c'])
  lru.get('a')
  lru.set('d', 'value of d')
  t.same(lru.keys(), ['c', 'a', 'd'])
  t.notOk(lru.has('b'))
  t.equal(lru.size, 3)
  for (let i = 0; i < 100; i++) {
    lru.get('a')
    lru.set(`new-${i}`, 'x')
  }
  t.same(lru.keys(), ['new-98', 'a', 'new-99'], 'a key used between insertions survives them all')
})

t.test('setting a key that is held replaces its value and makes it the newest, without dropping anything', async (t) => {
  const lru = filled(3, ['a', 'b', 'c'])
  lru.set('a', 'new value')
  t.same(lru.keys(), ['b', 'c', 'a'])
  t.equal(lru.get('a'), 'new value')
  t.equal(lru.size, 3)
})

t.test('delete removes a key wherever it is, and a key that is not held is ignored', async (t) => {
  const lru = filled(5, ['a', 'b', 'c'])
  lru.delete('b')
  lru.delete('not held')
  t.same(lru.keys(), ['a', 'c'])
  lru.delete('c')
  lru.delete('a')
  t.same(lru.keys(), [])
  t.equal(lru.size, 0)
  lru.set('d', 'value of d')
  t.same(lru.keys(), ['d'], 'the list still works once emptied')
})
