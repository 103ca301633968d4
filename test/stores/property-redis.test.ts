import fc from 'fast-check'
import t from 'tap'
import { redisStore } from '../../lib/index.js'
import { CLOCK_START, fakeDateNow } from '../helpers/clock.js'
import { runPluginModel, startInstance, type Observed } from '../helpers/plugin-model.js'
import { propertySettings } from '../helpers/property.js'
import { onRedis, redisClient } from '../helpers/redis.js'
import { uniqueNamespace } from '../helpers/services.js'
import { runArbitrary, runStoreModel } from '../helpers/store-model.js'
import { fingerprintOfDigest } from '../../lib/domain/key.js'

// Alone this file takes seconds; in the full suite on 2 shared cores it can pass tap's 30 s default.
t.setTimeout(120_000)

t.test('the Redis store follows the model', async (t) => {
  onRedis(t, (t) => {
    t.test('through random initializations, rotations (some concurrent), revocations and clock jumps, and never holds a previous key in plain text', async (t) => {
      const client = redisClient(t)
      const settings = propertySettings(t, 100)
      let steps = 0
      await fc.assert(fc.asyncProperty(runArbitrary(25), async (run) => {
        steps += run.length
        const namespace = uniqueNamespace('prop')
        const store = redisStore({ client, namespace })
        try {
          const model = await runStoreModel(store, run, CLOCK_START)
          const raw = await rawContents(client, namespace)
          for (const record of model.previous) {
            if (raw.includes(record.key.slice(5))) throw new Error(`Redis holds previous key ${fingerprintOfDigest(record.digest)} in plain text`)
          }
        } finally {
          await store.close()
          const keys = await client.keys(`*${namespace}*`)
          if (keys.length > 0) await client.del(...keys)
        }
      }), settings)
      t.comment(`${settings.numRuns} runs, ${steps} store operations on Redis checked against the model`)
      t.pass('every run matched the model')
    })

    t.test('two app instances on one Redis namespace answer every verification as the model does, changes arriving by pub/sub', async (t) => {
      const client = redisClient(t)
      const settings = propertySettings(t, 30)
      let steps = 0
      await fc.assert(fc.asyncProperty(runArbitrary(12), async (run) => {
        steps += run.length
        const namespace = uniqueNamespace('propapp')
        const stores = [redisStore({ client, namespace }), redisStore({ client, namespace })]
        const observed: Observed = { logs: [], events: [] }
        const apps = [await startInstance(stores[0], observed), await startInstance(stores[1], observed)]
        const clock = fakeDateNow(CLOCK_START)
        try {
          await runPluginModel(apps, stores[0], run, clock, observed, 5000)
        } finally {
          clock.restore()
          await Promise.all(apps.map((app) => app.close()))
          await Promise.all(stores.map((store) => store.close()))
          const keys = await client.keys(`*${namespace}*`)
          if (keys.length > 0) await client.del(...keys)
        }
      }), settings)
      t.comment(`${settings.numRuns} runs, ${steps} operations through app.anonKey on Redis checked against the model`)
      t.pass('every run matched the model')
    })
  })
})

/** Every value Redis holds for `namespace`, as text. */
async function rawContents (client: ReturnType<typeof redisClient>, namespace: string): Promise<string> {
  const parts: string[] = []
  for (const key of await client.keys(`*${namespace}*`)) {
    const type = await client.type(key)
    if (type === 'hash') parts.push(JSON.stringify(await client.hgetall(key)))
    else if (type === 'string') parts.push(String(await client.get(key)))
    else if (type === 'list') parts.push(JSON.stringify(await client.lrange(key, 0, -1)))
    else if (type === 'zset') parts.push(JSON.stringify(await client.zrange(key, '0', '-1')))
    else if (type === 'set') parts.push(JSON.stringify(await client.smembers(key)))
  }
  return parts.join('\n')
}
