import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import autocannon from 'autocannon'
import t from 'tap'
import { memoryStore, type AnonKeyStore } from '../../lib/index.js'
import { adminHeaders, internalsOf, startApp } from '../helpers/app.js'
import { keyHandle } from '../../lib/conformance/index.js'

/** Seconds of load; 5 in the suite. `LOAD_SECONDS=30 npx tap test/keys/load-rotation.test.ts` gives the figure in docs/security.md. */
const SECONDS = Number(process.env.LOAD_SECONDS ?? 5)
// Room for the load itself plus start-up, in the full suite on 2 shared cores.
t.setTimeout(SECONDS * 1000 + 90_000)

/** A store that counts live subscriptions, to show that nothing piles up. */
function countingSubscriptions (inner: AnonKeyStore): { store: AnonKeyStore, live: () => number } {
  let live = 0
  const store: AnonKeyStore = {
    ...inner,
    namespace: inner.namespace,
    subscribe: async (listener) => {
      const unsubscribe = await inner.subscribe(listener)
      live += 1
      return async () => { live -= 1; await unsubscribe() }
    }
  }
  return { store, live: () => live }
}

const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1) + ' MB'

/** The heap in use after a full garbage collection (the figure goes to the output, never into an assertion). */
function heapAfterGc (): number {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  gc()
  return process.memoryUsage().heapUsed
}

t.test(`${SECONDS} s of verified requests while another instance rotates every second: no request with a valid key refused, nothing left behind`, async (t) => {
  const { store, live } = countingSubscriptions(memoryStore())
  const served = await startApp(t, { store })
  const rotator = await startApp(t, { store })
  await served.listen({ port: 0, host: '127.0.0.1' })
  const { port } = served.server.address() as { port: number }

  const firstKey = await served.anonKey.get() as string
  let latestKey = firstKey
  const listenersBefore = { rotated: served.anonKey.listenerCount('rotated'), process: process.listenerCount('unhandledRejection') }
  const heapBefore = heapAfterGc()

  // Half the requests keep the key current at the start (a shipped app), half switch to each new key.
  let sent = 0
  const load = autocannon({
    url: `http://127.0.0.1:${port}/data`,
    connections: 8,
    duration: SECONDS,
    requests: [{
      setupRequest: (request) => {
        sent += 1
        return { ...request, headers: { ...request.headers, authorization: `Bearer ${sent % 2 === 0 ? firstKey : latestKey}` } }
      }
    }]
  })

  let rotations = 0
  const failedRotations: string[] = []
  const rotating = setInterval(() => {
    rotator.inject({
      method: 'POST',
      url: '/api/secrets/anon-key/rotate',
      headers: { ...adminHeaders(), 'content-type': 'application/json' },
      payload: '{"gracePeriodHours": 1}'
    }).then((response) => {
      if (response.statusCode === 200) {
        rotations += 1
        latestKey = response.json().anonKey
      } else {
        failedRotations.push(response.body)
      }
    }, (error: Error) => { failedRotations.push(error.message) })
  }, 1000)
  const result = await load
  clearInterval(rotating)
  await new Promise((resolve) => setTimeout(resolve, 100))

  t.same(failedRotations, [], 'every rotation succeeded')
  t.ok(rotations >= Math.max(1, SECONDS - 2), `${rotations} rotations happened during the load`)
  t.equal(result.non2xx, 0, `${result.non2xx} requests with a valid key were refused`)
  t.equal(result.errors, 0, 'no connection errors')
  t.equal(result.timeouts, 0, 'no timeouts')
  t.ok(result.requests.total > 0, 'requests were served')

  t.equal(await served.anonKey.get(), latestKey, 'the serving instance ends on the last rotated key')
  t.equal((await served.anonKey.listPrevious()).length, rotations, 'one previous key per rotation, all in their grace period')
  t.equal(internalsOf(served).single!.version, (await keyHandle(store).load()).version, 'the serving instance heard of every change')
  t.equal(live(), 2, 'one store subscription per instance, none added by the load')
  t.equal(served.anonKey.listenerCount('rotated'), listenersBefore.rotated, 'no event listener added')
  t.equal(process.listenerCount('unhandledRejection'), listenersBefore.process, 'no process listener added')
  const heapAfter = heapAfterGc()
  t.comment(`${result.requests.total} requests in ${SECONDS} s (${Math.round(result.requests.average)}/s), ${result['2xx']} 2xx, ${result.non2xx} refused, ` +
    `${rotations} rotations; heap ${mb(heapBefore)} before, ${mb(heapAfter)} after (each after a full GC)`)
})
