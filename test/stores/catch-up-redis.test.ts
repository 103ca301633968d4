import t from 'tap'
import type { Redis } from 'ioredis'
import { generateAnonKey } from '../../lib/domain/key.js'
import { redisStore, type RedisClient } from '../../lib/index.js'
import { keyHandle } from '../../lib/conformance/index.js'
import { counter } from '../../lib/conformance/tools.js'
import { POLL, POLL_LIMIT } from '../../lib/stores/redis/scripts.js'
import { onRedis, proxiedUrl, redisClient, redisNamespaces, REDIS_HOST, REDIS_PORT } from '../helpers/redis.js'
import { eventually } from '../helpers/eventually.js'
import { watchUnhandled } from '../helpers/unhandled.js'
import { checkNoMorePolls, checkOutageLoggedOnce, keptLog } from '../helpers/kept-log.js'
import { startTcpProxy } from '../helpers/tcp-proxy.js'

/** The real client with its `evalsha` (which runs every script, the catch-up poll included) replaced. */
function withEvalsha (client: Redis, evalsha: RedisClient['evalsha']): RedisClient {
  return {
    hmget: (key, ...fields) => client.hmget(key, ...fields),
    hgetall: (key) => client.hgetall(key),
    zrevrange: (key, start, stop) => client.zrevrange(key, start, stop),
    evalsha,
    eval: (source, count, ...rest) => client.eval(source, count, ...rest),
    duplicate: () => client.duplicate()
  }
}

/** The real client, counting the catch-up polls it runs. */
function countingPolls (client: Redis): { client: RedisClient, polls: () => number } {
  let polls = 0
  return {
    client: withEvalsha(client, (sha, count, ...rest) => {
      if (sha === POLL.sha) polls += 1
      return client.evalsha(sha, count, ...rest)
    }),
    polls: () => polls
  }
}

/** The real client, whose polls wait, once `hold()` was called, until `release()`. */
function gatedPolls (client: Redis): { client: RedisClient, hold: () => void, release: () => void, held: () => boolean } {
  let gate: Promise<void> | null = null
  let open = (): void => {}
  let waiting = false
  return {
    client: withEvalsha(client, async (sha, count, ...rest) => {
      if (sha === POLL.sha && gate !== null) {
        waiting = true
        await gate
      }
      return await client.evalsha(sha, count, ...rest)
    }),
    hold: () => { gate = new Promise((resolve) => { open = resolve }) },
    release: () => {
      gate = null
      open()
    },
    held: () => waiting
  }
}

/** The real client, whose next poll after `silence()` never answers, as one sent to a server gone silent. */
function silencedPoll (client: Redis): { client: RedisClient, silence: () => void, silenced: () => boolean } {
  let next = false
  let sent = false
  return {
    client: withEvalsha(client, (sha, count, ...rest) => {
      if (sha !== POLL.sha || !next) return client.evalsha(sha, count, ...rest)
      next = false
      sent = true
      return new Promise(() => {})
    }),
    silence: () => { next = true },
    silenced: () => sent
  }
}

/** The real client, keeping how many projects each catch-up poll returned. */
function watchedPolls (client: Redis): { client: RedisClient, returned: number[] } {
  const returned: number[] = []
  return {
    client: withEvalsha(client, async (sha, count, ...rest) => {
      const answer = await client.evalsha(sha, count, ...rest)
      if (sha === POLL.sha) returned.push((answer as [string, string[]])[1].length / 2)
      return answer
    }),
    returned
  }
}

onRedis(t, (t) => {
  const admin = redisClient(t)
  const { namespace } = redisNamespaces(t, admin)

  t.test('polls once every catchUpMs, whatever the number of projects, and stops on close', async (t) => {
    const ns = namespace('cost')
    const writer = redisStore({ client: admin, namespace: ns })
    for (let index = 0; index < 50; index++) await keyHandle(writer, `tenant-${index}`).initialize(generateAnonKey())
    const counted = countingPolls(redisClient(t))
    const store = redisStore({ client: counted.client, namespace: ns, catchUpMs: 100 })
    t.teardown(() => store.close())
    await store.subscribe(() => {})
    const first = counted.polls()
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const during = counted.polls() - first
    t.ok(during >= 3 && during <= 11, `about one poll every 100 ms over 1 s with 50 projects (${during})`)
    await store.close()
    await checkNoMorePolls(t, counted.polls)
  })

  t.test('close while the first poll is under way starts no polling once it returns', async (t) => {
    const gated = gatedPolls(redisClient(t))
    const counted = countingPolls(gated.client as unknown as Redis)
    const store = redisStore({ client: counted.client, namespace: namespace('closefirst'), catchUpMs: 50 })
    gated.hold()
    const subscribing = store.subscribe(() => {})
    await eventually('the first poll to wait', () => gated.held(), 5000)
    await store.close()
    gated.release()
    await subscribing
    await checkNoMorePolls(t, counted.polls)
  })

  t.test('close while a later poll is under way schedules no other', async (t) => {
    const gated = gatedPolls(redisClient(t))
    const counted = countingPolls(gated.client as unknown as Redis)
    const store = redisStore({ client: counted.client, namespace: namespace('closelater'), catchUpMs: 50 })
    await store.subscribe(() => {})
    gated.hold()
    await eventually('a poll to wait', () => gated.held(), 5000)
    await store.close()
    gated.release() // the poll it held was counted when it was sent
    await checkNoMorePolls(t, counted.polls)
  })

  t.test('a subscribe whose first poll is refused (an ACL without EVALSHA) rejects and leaves nothing open', async (t) => {
    const user = `anon_key_no_eval_${process.pid}`
    await admin.call('ACL', 'SETUSER', user, 'on', 'nopass', '~*', '&*', '+@all', '-evalsha', '-eval')
    t.teardown(() => admin.call('ACL', 'DELUSER', user))
    const ns = namespace('noperm')
    const store = redisStore({ client: redisClient(t, { username: user }), namespace: ns })
    t.teardown(() => store.close())
    await t.rejects(store.subscribe(() => {}), /NOPERM/)
    const channel = `fastify-anon-key:${ns}:changes`
    await eventually('the listening connection to be closed', async () => (await admin.call('PUBSUB', 'NUMSUB', channel) as [string, number])[1] === 0, 5000)
  })

  t.test('a change published while the listening connection is gone for good is heard through the poll within 2 s', async (t) => {
    const ns = namespace('deaf')
    const name = `deaf_${ns}`
    // ioredis gives up on the first cut: the store's listening connection (a duplicate, same options) never comes back.
    const store = redisStore({ client: redisClient(t, { connectionName: name, retryStrategy: () => null }), namespace: ns })
    t.teardown(() => store.close())
    const heard = counter()
    await store.subscribe(heard.listener)
    const clients = String(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')).split('\n').filter((line) => line.includes(`name=${name} `))
    t.equal(clients.length, 1, 'one listening connection')
    await admin.call('CLIENT', 'KILL', 'ID', (/id=(\d+)/.exec(clients[0]) as RegExpExecArray)[1])
    const started = performance.now()
    await keyHandle(redisStore({ client: admin, namespace: ns }), 'tenant-a').initialize(generateAnonKey())
    const took = await eventually('the store to hear tenant-a', () => heard.projects.includes('tenant-a'), 2000, { started })
    t.comment(`heard through the poll after ${took.toFixed(0)} ms (catchUpMs 1000)`)
    t.same(heard.projects, ['tenant-a'], 'once, by its project')
  })

  t.test('a store that wrote a project, then lost its listening connection, hears the next change of that project through the poll', async (t) => {
    const ns = namespace('deafwriter')
    const name = `deafwriter_${ns}`
    const store = redisStore({ client: redisClient(t, { connectionName: name, retryStrategy: () => null }), namespace: ns, catchUpMs: 100 })
    t.teardown(() => store.close())
    const heard = counter()
    await store.subscribe(heard.listener)
    // Its own change: it hears its own message, and its poll then finds the change it wrote.
    await keyHandle(store, 'tenant-a').initialize(generateAnonKey())
    await eventually('the store to hear its own change', () => heard.projects.includes('tenant-a'), 2000)
    await new Promise((resolve) => setTimeout(resolve, 300))
    const clients = String(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')).split('\n').filter((line) => line.includes(`name=${name} `))
    await admin.call('CLIENT', 'KILL', 'ID', (/id=(\d+)/.exec(clients[0]) as RegExpExecArray)[1])
    const before = heard.projects.length
    const started = performance.now()
    await keyHandle(redisStore({ client: admin, namespace: ns }), 'tenant-a').rotate({ newKey: generateAnonKey(), now: Date.now(), expiresAt: Date.now() + 3_600_000 })
    const took = await eventually('the store to hear the other writer\'s change', () => heard.projects.length > before, 2000, { started })
    t.comment(`heard through the poll after ${took.toFixed(0)} ms (catchUpMs 100)`)
  })

  t.test(`a burst of 2,500 changes while the listening connection is gone is read ${POLL_LIMIT} at a time, each change once`, async (t) => {
    const ns = namespace('burst')
    const name = `burst_${ns}`
    const gated = gatedPolls(redisClient(t, { connectionName: name, retryStrategy: () => null }))
    const watched = watchedPolls(gated.client as unknown as Redis)
    const store = redisStore({ client: watched.client, namespace: ns, catchUpMs: 50 })
    t.teardown(() => store.close())
    const heard: Array<[string | null, number | undefined]> = []
    await store.subscribe((project, change) => { heard.push([project, change?.version]) })
    const clients = String(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')).split('\n').filter((line) => line.includes(`name=${name} `))
    await admin.call('CLIENT', 'KILL', 'ID', (/id=(\d+)/.exec(clients[0]) as RegExpExecArray)[1])
    const writer = redisStore({ client: admin, namespace: ns })
    const projects = Array.from({ length: 2500 }, (_, index) => `tenant-${index}`)
    // The polls wait while the burst is written (well within the 2 s after which a poll counts as stuck), so that it lands between two.
    gated.hold()
    await Promise.all(projects.map((project) => keyHandle(writer, project).initialize(generateAnonKey())))
    gated.release()
    await eventually('the store to hear every change', () => heard.length >= projects.length, 10_000)
    await new Promise((resolve) => setTimeout(resolve, 200))
    t.equal(heard.length, projects.length, 'no change reported twice')
    t.same(heard.map(([project]) => project).sort(), [...projects].sort(), 'every change reported, by its project')
    t.ok(heard.every(([, version]) => version === 1), 'each with the version it wrote')
    t.same(watched.returned.filter((count) => count > 0), [POLL_LIMIT, POLL_LIMIT, 500], `the polls after it returned ${POLL_LIMIT}, ${POLL_LIMIT}, then 500`)
  })

  t.test('a change log that went back (Redis restarted without persistence) makes the poll report null: reload everything', async (t) => {
    const ns = namespace('wentback')
    const store = redisStore({ client: redisClient(t), namespace: ns, catchUpMs: 100 })
    t.teardown(() => store.close())
    for (const project of ['a', 'b', 'c']) await keyHandle(store, project).initialize(generateAnonKey())
    const heard = counter()
    await store.subscribe(heard.listener)
    await admin.del(`{fastify-anon-key:${ns}}:sequence`, `{fastify-anon-key:${ns}}:changed`)
    await keyHandle(store, 'd').initialize(generateAnonKey())
    await eventually('the poll to report that it cannot tell what changed', () => heard.projects.includes(null), 2000)
  })

  t.test('a poll that never answers (a server gone silent) counts as failed after 2 s, and polling goes on', async (t) => {
    const ns = namespace('silent')
    const silent = silencedPoll(redisClient(t))
    const counted = countingPolls(silent.client as unknown as Redis)
    const log = keptLog()
    const store = redisStore({ client: counted.client, namespace: ns, catchUpMs: 100 })
    t.teardown(() => store.close())
    await store.subscribe(() => {}, { log })
    silent.silence()
    await eventually('a poll to go unanswered', () => silent.silenced(), 5000)
    const stuck = counted.polls()
    const took = await eventually('the unanswered poll to be logged as failed', () => log.lines.length > 0, 5000)
    t.ok(took >= 1900, `not before 2 s (${took.toFixed(0)} ms)`)
    t.match(log.lines[0], { level: 'error', message: /redisStore could not poll for missed changes/ })
    t.equal(counted.polls(), stuck, 'no other poll was sent while it was under way')
    await eventually('the next poll to work', () => log.lines.length > 1, 2000)
    t.match(log.lines[1], { level: 'info', message: /catch-up polling works again/ })
    await eventually('polls to go on every 100 ms', () => counted.polls() >= stuck + 3, 2000)
  })

  t.test('a poll that fails while Redis is cut is logged once, then once when it works again, and nothing is unhandled', async (t) => {
    const unhandled = watchUnhandled(t)
    const proxy = await startTcpProxy(REDIS_HOST, REDIS_PORT)
    t.teardown(() => proxy.close())
    const log = keptLog()
    const store = redisStore({ client: redisClient(t, { maxRetriesPerRequest: 0 }, proxiedUrl(proxy.port)), namespace: namespace('cut'), catchUpMs: 100 })
    t.teardown(() => store.close())
    await store.subscribe(() => {}, { log })
    await checkOutageLoggedOnce(t, log, proxy, 'redisStore')
    t.same(unhandled, [], 'no unhandled rejection')
  })
})
