import Fastify, { type FastifyInstance } from 'fastify'
import t from 'tap'
import { assertError, bearer, JWT_SECRET } from '../helpers/app.js'
import anonKey, { AnonKeyRejection, verifyAnonKey, type FastifyAnonKeyOptions } from '../../lib/index.js'
import { fingerprintOf } from '../../lib/stores/index.js'

type Form = 'decorator' | 'import'

/** A route whose async onRequest hook awaits verifyAnonKey (without done), in either form; refusals are recorded. */
async function awaitingApp (t: { teardown: (fn: () => unknown) => void }, form: Form, options: FastifyAnonKeyOptions = {}) {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(anonKey, { jwt: { secret: JWT_SECRET }, ...options })
  const caught: unknown[] = []
  app.get('/rows', {
    onRequest: async (request, reply) => {
      const verify = form === 'decorator' ? app.verifyAnonKey : verifyAnonKey
      try {
        await verify(request, reply)
      } catch (refusal) {
        caught.push(refusal)
        throw refusal
      }
    }
  }, async (request) => ({ anonKey: request.anonKey }))
  await app.ready()
  return { app, caught, key: (await app.anonKey.get()) as string }
}

for (const form of ['decorator', 'import'] as const) {
  t.test(`awaited from an async hook (${form}), a valid key resolves and the request goes on with request.anonKey`, async (t) => {
    const { app, key, caught } = await awaitingApp(t, form)
    const response = await app.inject({ url: '/rows', headers: bearer(key) })
    t.equal(response.statusCode, 200, `client got ${response.statusCode} ${response.body}`)
    t.same(response.json(), { anonKey: { role: 'anon', name: 'default', fingerprint: fingerprintOf(key), expiresAt: null } })
    t.same(caught, [])
  })

  t.test(`awaited from an async hook (${form}), a refusal rejects with the refusal and the client gets the contract's 401`, async (t) => {
    const { app, key, caught } = await awaitingApp(t, form)
    const missing = await app.inject({ url: '/rows' })
    assertError(t, missing, 401, 'AUTH_INVALID_CREDENTIALS')
    t.equal(missing.headers['www-authenticate'], 'Bearer')
    await app.anonKey.rotate({ gracePeriodHours: 0 })
    assertError(t, await app.inject({ url: '/rows', headers: bearer(key) }), 401, 'ANON_KEY_EXPIRED')
    t.equal(caught.length, 2)
    t.ok(caught[0] instanceof AnonKeyRejection, 'the promise rejects with the refusal itself')
    t.same([(caught[0] as AnonKeyRejection).code, (caught[1] as AnonKeyRejection).code], ['AUTH_INVALID_CREDENTIALS', 'ANON_KEY_EXPIRED'])
  })

  t.test(`awaited (${form}) with a previous key, the expiry header is set before the promise resolves`, async (t) => {
    const { app, key } = await awaitingApp(t, form)
    const { oldKeyExpiresAt } = await app.anonKey.rotate({ gracePeriodHours: 2 })
    const response = await app.inject({ url: '/rows', headers: bearer(key) })
    t.equal(response.statusCode, 200)
    t.equal(response.headers['anon-key-expires-at'], oldKeyExpiresAt)
  })
}

t.test('called without done, the hook returns a promise and never calls anything else', async (t) => {
  const app: FastifyInstance = Fastify()
  t.teardown(() => app.close())
  await app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  let outcome: Promise<void> | undefined
  app.get('/rows', {
    onRequest: async (request, reply) => {
      outcome = app.verifyAnonKey(request, reply)
      await outcome.catch(() => {})
      return reply.send({ decidedBy: 'host' })
    }
  }, async () => ({ reached: 'handler' }))
  await app.ready()
  const response = await app.inject({ url: '/rows' })
  t.same(response.json(), { decidedBy: 'host' }, 'the host decided the answer after awaiting the refusal')
  t.type(outcome?.then, 'function')
  await t.rejects(outcome as Promise<void>, { code: 'AUTH_INVALID_CREDENTIALS', statusCode: 401 })
})
