import { createHash } from 'node:crypto'
import t from 'tap'
import type { Redis } from 'ioredis'
import { redisStore } from '../../lib/index.js'
import { fingerprintOf, generateAnonKey } from '../../lib/stores/index.js'
import { runStoreConformance } from '../../lib/conformance/index.js'
import { contentOf, deleteNamespace, keysOf, onRedis, proxiedUrl, redisClient, redisNamespaces, REDIS_HOST, REDIS_PORT } from '../helpers/redis.js'
import { uniqueNamespace } from '../helpers/services.js'
import { startTcpProxy } from '../helpers/tcp-proxy.js'
import { eventually } from '../helpers/eventually.js'
import { keyHandle } from '../../lib/conformance/index.js'

const HOUR_MS = 60 * 60 * 1000
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')

/** Everything Redis holds for a namespace, as text: every key name and every field and value in it. */
async function dumpOf (client: Redis, namespace: string): Promise<string> {
  const parts: string[] = []
  for (const key of await keysOf(client, namespace)) parts.push(key, await contentOf(client, key))
  return parts.join('\n')
}

onRedis(t, (t) => {
  const admin = redisClient(t)
  const { namespace, track } = redisNamespaces(t, admin)

  t.test('the Redis store passes the conformance suite, each instance on a client of its own', async (t) => {
    await runStoreConformance(t, {
      createStore (ns) {
        track(ns)
        return redisStore({ client: redisClient(t), namespace: ns })
      },
      readRaw: (ns) => dumpOf(admin, ns),
      namespacePrefix: uniqueNamespace('conformance')
    })
  })

  t.test('keeps a project in one hash under a hash tag of its own, and announces the project on the namespace channel', async (t) => {
    const ns = namespace('layout')
    const store = redisStore({ client: redisClient(t), namespace: ns })
    t.teardown(() => store.close())
    const listener = redisClient(t)
    const heard: Array<[string, string]> = []
    listener.on('message', (channel: string, message: string) => heard.push([channel, message]))
    await listener.subscribe(`fastify-anon-key:${ns}:changes`)

    await keyHandle(store).initialize(generateAnonKey())
    const now = Date.now()
    await keyHandle(store).rotate({ newKey: generateAnonKey(), now, expiresAt: now + HOUR_MS })
    await keyHandle(store).revoke({ now: now + 1 })

    await keyHandle(store, 'tenant-a').initialize(generateAnonKey())

    t.same(await keysOf(admin, ns), [`{fastify-anon-key:${ns}:tenant-a}:state`, `{fastify-anon-key:${ns}:}:retired`, `{fastify-anon-key:${ns}:}:state`, `{fastify-anon-key:${ns}}:changed`, `{fastify-anon-key:${ns}}:sequence`, `{fastify-anon-key:${ns}}:versions`],
      'one hash a project, a sorted set of the retired keys of a project that retired some, each named with its own hash tag, and the namespace\'s change log')
    t.same(await admin.zrange(`{fastify-anon-key:${ns}}:changed`, '0', '-1', 'WITHSCORES'), ['', '3', 'tenant-a', '4'], 'the change log holds each project once, with the number of its last change')
    t.equal(await admin.type(`{fastify-anon-key:${ns}:}:state`), 'hash')
    t.equal(await admin.type(`{fastify-anon-key:${ns}:}:retired`), 'zset')
    t.same(Object.keys(await admin.hgetall(`{fastify-anon-key:${ns}:}:state`)).sort(), ['state', 'version'])
    await eventually('four change notifications', () => heard.length === 4, 5000)
    const channel = `fastify-anon-key:${ns}:changes`
    t.same(heard.map(([on, message]) => [on, message.split(' ').slice(0, 2).join(' ')]), [[channel, ' 1'], [channel, ' 2'], [channel, ' 3'], [channel, 'tenant-a 1']],
      'each change is published on the namespace channel as "<project> <version> <revision>"')
  })

  t.test('keyPrefix renames the hash tag', async (t) => {
    const ns = namespace('prefix')
    const store = redisStore({ client: redisClient(t), namespace: ns, keyPrefix: 'myapp-keys' })
    await keyHandle(store).initialize(generateAnonKey())
    t.same(await keysOf(admin, ns, 'myapp-keys'), [`{myapp-keys:${ns}:}:state`, `{myapp-keys:${ns}}:changed`, `{myapp-keys:${ns}}:sequence`, `{myapp-keys:${ns}}:versions`])
    t.same(await keysOf(admin, ns), [], 'nothing is written under the default prefix')
    await deleteNamespace(admin, ns, 'myapp-keys')
  })

  t.test('a client with its own ioredis keyPrefix works: keys are prefixed, the channel matches, the tag still holds', async (t) => {
    const ns = namespace('clientprefix')
    const store = redisStore({ client: redisClient(t, { keyPrefix: `app_${ns}:` }), namespace: ns })
    t.teardown(() => store.close())
    let calls = 0
    await store.subscribe(() => { calls += 1 })
    const key = generateAnonKey()
    await keyHandle(store).initialize(key)
    await eventually('a notification', () => calls > 0, 5000)
    t.match(await admin.hget(`app_${ns}:{fastify-anon-key:${ns}:}:state`, 'state'), key, 'the state is under the client\'s prefix, hash tag intact')
    await admin.del(`app_${ns}:{fastify-anon-key:${ns}:}:state`, `app_${ns}:{fastify-anon-key:${ns}}:changed`, `app_${ns}:{fastify-anon-key:${ns}}:sequence`, `app_${ns}:{fastify-anon-key:${ns}}:versions`)
  })

  t.test('a namespace or prefix with a brace is refused, since it would break the hash tag', async (t) => {
    const client = redisClient(t, { lazyConnect: true })
    t.throws(() => redisStore({ client, namespace: 'a}b' }), /must not contain \{ or \}/)
    t.throws(() => redisStore({ client, keyPrefix: '{x' }), /must not contain \{ or \}/)
    t.equal(redisStore({ client }).namespace, 'default')
  })

  t.test('previous keys are stored only as SHA-256 digests: no retired key is in any stored value', async (t) => {
    const ns = namespace('digests')
    const store = redisStore({ client: redisClient(t), namespace: ns })
    const keys = Array.from({ length: 5 }, () => generateAnonKey())
    await keyHandle(store).initialize(keys[0])
    let now = Date.now()
    for (const key of keys.slice(1)) {
      now += 1
      await keyHandle(store).rotate({ newKey: key, now, expiresAt: now + HOUR_MS })
    }
    await keyHandle(store).revoke({ now: now + 1, fingerprint: fingerprintOf(keys[1]) })

    const dump = await dumpOf(admin, ns)
    for (const retired of keys.slice(0, -1)) {
      t.notOk(dump.includes(retired.slice('anon_'.length)), 'a retired key is readable in Redis')
      t.ok(dump.includes(sha256(retired)), 'a retired key has no digest record')
    }
    t.ok(dump.includes(keys[4]), 'the current key is stored so GET can return it')
    const loaded = await keyHandle(store).load()
    t.equal(loaded.currentKey, keys[4])
    t.same(loaded.previousKeys.map((record) => record.digest).sort(), [keys[0], ...keys.slice(2, -1)].map(sha256).sort(), 'the keys that still verify')
    t.same((await keyHandle(store).retired()).map((record) => record.digest), [sha256(keys[1])], 'the revoked one')
  })

  t.test('usage reports of every instance add up on previous keys on record, unknown digests are dropped, nothing is announced', async (t) => {
    const ns = namespace('usage')
    const [one, two] = [redisStore({ client: redisClient(t), namespace: ns }), redisStore({ client: redisClient(t), namespace: ns })]
    const [first, second] = [generateAnonKey(), generateAnonKey()]
    await keyHandle(one).initialize(first)
    const now = Date.now()
    await keyHandle(one).rotate({ newKey: second, now, expiresAt: now + HOUR_MS })
    const digest = sha256(first)
    const unknown = sha256(generateAnonKey())
    let heard = 0
    await two.subscribe(() => { heard += 1 })
    t.teardown(() => two.close())
    await keyHandle(one).recordUsage([{ digest, requests: 3, lastSeenAt: now + 20 }, { digest: unknown, requests: 7, lastSeenAt: now }])
    await keyHandle(two).recordUsage([{ digest, requests: 2, lastSeenAt: now + 10 }])
    await keyHandle(two).recordUsage([])
    const [record] = (await keyHandle(one).load()).previousKeys
    t.same(record, { digest, rotatedAt: now, expiresAt: now + HOUR_MS, revokedAt: null, requests: 5, lastSeenAt: now + 20 })
    t.notOk((await dumpOf(admin, ns)).includes(unknown), 'nothing is kept for a digest the store does not hold')
    t.equal((await keyHandle(one).load()).version, 4, 'each batch that landed is one write; an empty one writes nothing')
    await keyHandle(one).revoke({ now: now - 1, fingerprint: sha256(generateAnonKey()).slice(0, 12) }) // a no-op, not announced either
    await new Promise((resolve) => setTimeout(resolve, 200))
    t.equal(heard, 0, 'usage is not a change of the key: nobody is told')

    const revoked = await keyHandle(two).revoke({ now: now + 1 })
    t.same(revoked.revoked.map((entry) => entry.requests), [5], 'a revoked key keeps its figures')
    const later = now + 40 * 24 * HOUR_MS
    await keyHandle(two).rotate({ newKey: generateAnonKey(), now: later, expiresAt: later + HOUR_MS })
    t.same((await keyHandle(one).load()).previousKeys.map((entry) => entry.digest), [sha256(second)], 'the first key is pruned after the retention period')
    t.notOk((await dumpOf(admin, ns)).includes(digest), 'and its usage figures with it')
    t.same(await keysOf(admin, ns), [`{fastify-anon-key:${ns}:}:state`, `{fastify-anon-key:${ns}}:changed`, `{fastify-anon-key:${ns}}:sequence`, `{fastify-anon-key:${ns}}:versions`],
      'the retired keys, all forgotten, leave no sorted set behind')
  })

  t.test('keeps working after Redis forgot its scripts (restart, SCRIPT FLUSH)', async (t) => {
    const ns = namespace('noscript')
    const store = redisStore({ client: redisClient(t), namespace: ns })
    await keyHandle(store).initialize(generateAnonKey())
    await admin.script('FLUSH')
    const now = Date.now()
    const outcome = await keyHandle(store).rotate({ newKey: generateAnonKey(), now, expiresAt: now + HOUR_MS })
    t.equal(outcome?.snapshot.version, 2, 'the rotation went through with the script sent whole')
    await keyHandle(store).revoke({ now: now + 1 })
    t.equal((await keyHandle(store).load()).version, 3, 'and the script is cached again')
  })

  t.test('a client that may not run scripts gets the error, not a retry loop', async (t) => {
    const ns = namespace('noperm')
    const user = `anonkey_noscript_${ns}`
    const password = `pw_${ns}`
    await admin.call('ACL', 'SETUSER', user, 'on', `>${password}`, '~*', '&*', '+@all', '-evalsha', '-eval')
    t.teardown(() => admin.call('ACL', 'DELUSER', user))
    const store = redisStore({ client: redisClient(t, { username: user, password }), namespace: ns })
    t.equal((await keyHandle(store).load()).currentKey, null, 'reading works')
    await t.rejects(keyHandle(store).initialize(generateAnonKey()), /NOPERM/)
  })

  t.test('a user with exactly the ACL docs/redis.md lists can initialize, rotate, retire, hear and poll', async (t) => {
    const ns = namespace('acl')
    const user = `anonkey_acl_${ns}`
    const password = `pw_${ns}`
    const commands = ['+hmget', '+hgetall', '+evalsha', '+eval', '+hget', '+hset', '+publish', '+subscribe', '+incr', '+zadd', '+zrangebyscore', '+get',
      '+zrevrange', '+zremrangebyscore', '+zremrangebyrank', '+info']
    await admin.call('ACL', 'SETUSER', user, 'on', `>${password}`, '~{fastify-anon-key:*', '&fastify-anon-key:*', ...commands)
    t.teardown(() => admin.call('ACL', 'DELUSER', user))
    const store = redisStore({ client: redisClient(t, { username: user, password }), namespace: ns, catchUpMs: 50 })
    t.teardown(() => store.close())
    const errors: string[] = []
    const heard: Array<string | null> = []
    await store.subscribe((project) => { heard.push(project) }, { log: { error: (details, message) => { errors.push(message) }, info: () => {} } })
    const first = generateAnonKey()
    await keyHandle(store).initialize(first)
    const now = Date.now()
    await keyHandle(store).rotate({ newKey: generateAnonKey(), now, expiresAt: now })
    t.same((await store.loadRetired('')).map((record) => record.digest), [sha256(first)], 'the key retired at once is in the retired set, read back')
    await eventually('both changes to be heard', async () => heard.length >= 2, 5000)
    t.equal(await admin.get(`{fastify-anon-key:${ns}}:sequence`), '2', 'both changes are in the namespace\'s change log')
    await new Promise((resolve) => setTimeout(resolve, 300))
    t.same(errors, [], 'the catch-up polls meanwhile raised nothing')
  })

  t.test('the listening connection is opened on first subscribe and closed with the last listener; the client is never closed', async (t) => {
    const name = `anonkey_${namespace('conn')}`
    const client = redisClient(t, { connectionName: name })
    const store = redisStore({ client, namespace: name })
    const connections = async (): Promise<number> => String(await admin.client('LIST')).split('\n').filter((line) => line.includes(` name=${name} `)).length
    await client.ping()
    t.equal(await connections(), 1, 'only the client before any subscribe')
    const stopOne = await store.subscribe(() => {})
    const stopTwo = await store.subscribe(() => {})
    t.equal(await connections(), 2, 'one listening connection for every listener')
    await stopOne()
    t.equal(await connections(), 2, 'kept while a listener remains')
    await stopTwo()
    await eventually('the listening connection to close', async () => (await connections()) === 1, 5000)
    await store.subscribe(() => {})
    t.equal(await connections(), 2, 'opened again by a new subscribe')
    await store.close()
    await store.close()
    await eventually('close to end the listening connection', async () => (await connections()) === 1, 5000)
    t.equal(await client.ping(), 'PONG', 'the user\'s client still works after close')
  })

  for (const [label, options] of [['enableOfflineQueue: false', { enableOfflineQueue: false }], ['lazyConnect: true', { lazyConnect: true }]] as const) {
    t.test(`a client made with ${label} hears changes too`, async (t) => {
      const ns = namespace('clientopts')
      const store = redisStore({ client: redisClient(t, options), namespace: ns })
      t.teardown(() => store.close())
      let calls = 0
      await store.subscribe(() => { calls += 1 })
      await keyHandle(redisStore({ client: redisClient(t), namespace: ns })).initialize(generateAnonKey())
      await eventually('a notification', () => calls > 0, 5000)
      t.equal((await keyHandle(store).load()).version, 1)
    })
  }

  t.test('close() while subscribe waits for an unreachable Redis ends the wait: subscribe rejects, nothing hangs', async (t) => {
    const proxy = await startTcpProxy(REDIS_HOST, REDIS_PORT)
    t.teardown(() => proxy.close())
    proxy.cut()
    const client = redisClient(t, { retryStrategy: () => 20 }, proxiedUrl(proxy.port))
    const store = redisStore({ client, namespace: namespace('closewait') })
    const subscribing = t.rejects(store.subscribe(() => {}), /closed before its Redis listening connection was ready/)
    await new Promise((resolve) => setTimeout(resolve, 100))
    await store.close()
    await subscribing
    proxy.restore()
    await eventually('the user\'s client to reconnect', () => client.status === 'ready', 5000)
    t.equal(await client.ping(), 'PONG', 'the user\'s client, untouched, works once Redis is back')
  })

  t.test('a client whose retryStrategy gives up fails subscribe while Redis is down, instead of waiting', async (t) => {
    const proxy = await startTcpProxy(REDIS_HOST, REDIS_PORT)
    t.teardown(() => proxy.close())
    proxy.cut()
    const store = redisStore({ client: redisClient(t, { retryStrategy: () => null }, proxiedUrl(proxy.port)), namespace: namespace('giveup') })
    t.teardown(() => store.close())
    await t.rejects(store.subscribe(() => {}), /ended before it was ready/)
  })

  t.test('a lazyConnect client whose Redis is down fails subscribe, and a later subscribe works', async (t) => {
    const proxy = await startTcpProxy(REDIS_HOST, REDIS_PORT)
    t.teardown(() => proxy.close())
    proxy.cut()
    const ns = namespace('lazydown')
    const store = redisStore({ client: redisClient(t, { lazyConnect: true, retryStrategy: () => 20 }, proxiedUrl(proxy.port)), namespace: ns })
    t.teardown(() => store.close())
    await t.rejects(store.subscribe(() => {}), 'the first subscribe reports that Redis is down')
    proxy.restore()
    let calls = 0
    await store.subscribe(() => { calls += 1 })
    await keyHandle(redisStore({ client: redisClient(t), namespace: ns })).initialize(generateAnonKey())
    await eventually('a notification', () => calls > 0, 5000)
    t.pass('notifications flow after the failed first attempt')
  })

  for (const [label, options] of [['', {}], [' (even with autoResubscribe: false on the client)', { autoResubscribe: false }]] as const) {
    t.test(`after a cut connection the subscription comes back, and listeners hear once that something may have changed${label}`, async (t) => {
      const proxy = await startTcpProxy(REDIS_HOST, REDIS_PORT)
      t.teardown(() => proxy.close())
      const ns = namespace('resub')
      const store = redisStore({ client: redisClient(t, { ...options, retryStrategy: () => 50 }, proxiedUrl(proxy.port)), namespace: ns })
      t.teardown(() => store.close())
      const other = redisStore({ client: redisClient(t), namespace: ns })
      await keyHandle(other).initialize(generateAnonKey())
      let calls = 0
      await store.subscribe(() => { calls += 1 })

      proxy.cut()
      const now = Date.now()
      await keyHandle(other).rotate({ newKey: generateAnonKey(), now, expiresAt: now + HOUR_MS })
      t.equal(calls, 0, 'the change made during the cut cannot be heard')
      proxy.restore()
      await eventually('a notification after the reconnect', () => calls > 0, 5000)
      t.equal(calls, 1, 'told once after reconnecting, so the missed rotation is picked up')

      await keyHandle(other).revoke({ now: now + 1 })
      await eventually('the next change to be heard through the restored subscription', () => calls > 1, 5000)
      t.pass('the subscription survived the cut')
    })
  }

  t.test('errors on the store\'s own connection are handled: no "Unhandled error event", no crash', async (t) => {
    const proxy = await startTcpProxy(REDIS_HOST, REDIS_PORT)
    const client = redisClient(t, { retryStrategy: () => 50 }, proxiedUrl(proxy.port))
    let clientErrors = 0
    client.on('error', () => { clientErrors += 1 })
    const store = redisStore({ client, namespace: namespace('errors') })
    t.teardown(() => store.close())
    await store.subscribe(() => {})
    const printed: string[] = []
    const consoleError = console.error
    console.error = (...args: unknown[]) => { printed.push(args.join(' ')) }
    t.teardown(() => { console.error = consoleError })
    await proxy.close() // nothing listens any more: every reconnect attempt now fails with ECONNREFUSED
    await eventually('several failed reconnects', () => clientErrors >= 3, 5000)
    console.error = consoleError
    t.same(printed.filter((line) => line.includes('Unhandled error event')), [], 'ioredis found no error listener on a connection')
  })
})
