import Fastify from 'fastify'
import t from 'tap'
import anonKey, { memoryStore, type CreatedEvent, type DeletedEvent, type RevokedEvent, type RotatedEvent, type UpdatedEvent } from '../../lib/index.js'
import { fingerprintOf } from '../../lib/stores/index.js'
import { adminToken, JWT_SECRET, startApp } from '../helpers/app.js'
import { fakeDateNow } from '../helpers/clock.js'
import { keysRequest } from '../helpers/named-keys.js'

t.test('app.anonKey offers every named-key operation from code', async (t) => {
  const app = await startApp(t)
  const web = await app.anonKey.createKey({ name: 'web', description: 'Web', allowedOrigins: ['https://a.com'] })
  t.match(web, { name: 'web', description: 'Web', allowedOrigins: ['https://a.com'], previousKeys: [] })
  t.same(await app.anonKey.getKey('web'), web)
  t.same((await app.anonKey.listKeys()).map((key) => key.name), ['default', 'web'])
  const rotated = await app.anonKey.rotate({ name: 'web', gracePeriodHours: 2 })
  t.same((await app.anonKey.listPrevious({ name: 'web' })).map((key) => key.fingerprint), [web.fingerprint])
  t.same(await app.anonKey.listPrevious(), [], 'default has none')
  t.match(await app.anonKey.verify(rotated.anonKey), { valid: true, name: 'web', expiresAt: null })
  t.same(await app.anonKey.revokePrevious(undefined, { name: 'web' }), { success: true, revoked: 1 })
  t.match(await app.anonKey.updateKey('web', { allowedOrigins: null }), { allowedOrigins: null, description: 'Web' })
  t.same(await app.anonKey.deleteKey('web'), { success: true, deleted: 'web' })
  t.same(await app.anonKey.verify(rotated.anonKey), { valid: false, code: 'ANON_KEY_REVOKED' })
  await t.rejects(app.anonKey.getKey('web'), { code: 'NOT_FOUND' })
  await t.rejects(app.anonKey.createKey({ name: 'Bad' }), { code: 'INVALID_INPUT' })
  await t.rejects(app.anonKey.createKey(null as any), { code: 'INVALID_INPUT' })
  await t.rejects(app.anonKey.createKey({ name: 'web', description: 5 as any }), { code: 'INVALID_INPUT', message: /description/ })
  await t.rejects(app.anonKey.createKey({ name: 'web', allowedOrigins: ['nope'] }), { code: 'INVALID_INPUT', message: /allowedOrigins\[0\]/ })
  await t.rejects(app.anonKey.updateKey('default', {}), { code: 'INVALID_INPUT' })
  await t.rejects(app.anonKey.rotate({ name: 'ghost' }), { code: 'NOT_FOUND' })
  await t.rejects(app.anonKey.listPrevious({ name: 'ghost' }), { code: 'NOT_FOUND' })
  await t.rejects(app.anonKey.revokePrevious(undefined, { name: 'ghost' }), { code: 'NOT_FOUND' })
  await t.rejects(app.anonKey.rotate({ name: 'Nope' }), { code: 'INVALID_INPUT' })
  t.throws(() => app.anonKey.forTenant('acme'), { code: 'INVALID_INPUT', message: /tenant mode/ })
})

t.test('creating a key before the project has its default key is ANON_KEY_NOT_INITIALIZED', async (t) => {
  const app = await startApp(t, { autoInitialize: false })
  await t.rejects(app.anonKey.createKey({ name: 'web' }), { code: 'ANON_KEY_NOT_INITIALIZED' })
  t.same(await app.anonKey.listKeys(), [])
  t.same(await app.anonKey.revokePrevious(), { success: true, revoked: 0 })
  await t.rejects(app.anonKey.revokePrevious('0123456789ab'), { code: 'NOT_FOUND' })
  await app.anonKey.initialize()
  t.match(await app.anonKey.createKey({ name: 'web' }), { name: 'web' })
})

t.test('created, updated and deleted events name the key and the actor, never a whole key; rotated and revoked name the key', async (t) => {
  const app = await startApp(t)
  const seen: Array<[string, CreatedEvent | UpdatedEvent | DeletedEvent | RotatedEvent | RevokedEvent]> = []
  app.anonKey.on('created', (event) => { seen.push(['created', event]) })
  app.anonKey.on('updated', (event) => { seen.push(['updated', event]) })
  app.anonKey.on('deleted', (event) => { seen.push(['deleted', event]) })
  app.anonKey.on('rotated', (event) => { seen.push(['rotated', event]) })
  app.anonKey.on('revoked', (event) => { seen.push(['revoked', event]) })
  const headers = { authorization: `Bearer ${adminToken({ sub: 'ops-7' })}` }
  const web = (await keysRequest(app, 'POST', '', { name: 'web', allowedOrigins: ['https://a.com'] }, headers)).json()
  await keysRequest(app, 'PATCH', '/web', { description: 'Site' }, headers)
  const rotated = (await keysRequest(app, 'POST', '/web/rotate', { gracePeriodHours: 1 }, headers)).json()
  await keysRequest(app, 'DELETE', '/web/previous', undefined, headers)
  await keysRequest(app, 'DELETE', '/web', undefined, headers)
  t.same(seen.map(([name]) => name), ['created', 'updated', 'rotated', 'revoked', 'deleted'])
  for (const [, event] of seen) {
    t.equal(event.name, 'web')
    t.equal(event.actor, 'ops-7')
    t.notOk('tenant' in event, 'no tenant outside tenant mode')
  }
  t.notMatch(JSON.stringify(seen), /anon_/, 'no event holds a key')
  t.match(seen[0][1], { fingerprint: web.fingerprint, description: '', allowedOrigins: ['https://a.com'] })
  t.match(seen[1][1], { description: 'Site', allowedOrigins: ['https://a.com'] })
  t.match(seen[2][1], { oldFingerprint: web.fingerprint, newFingerprint: fingerprintOf(rotated.anonKey), evictedFingerprints: [] })
  t.match(seen[4][1], { fingerprints: [fingerprintOf(rotated.anonKey)] })
})

t.test('a rotation beyond maxPreviousKeys revokes the oldest previous keys of that name only, and the event names them', async (t) => {
  const app = await startApp(t, { maxPreviousKeys: 2 })
  const clock = fakeDateNow(Date.now())
  t.teardown(() => clock.restore())
  const events: RotatedEvent[] = []
  app.anonKey.on('rotated', (event) => { events.push(event) })
  const web = await app.anonKey.createKey({ name: 'web' })
  const defaultKey = await app.anonKey.get()
  await app.anonKey.rotate()
  for (let i = 0; i < 3; i++) {
    clock.advance(1000)
    await app.anonKey.rotate({ name: 'web' })
  }
  t.same(events[3].evictedFingerprints, [web.fingerprint])
  t.same(await app.anonKey.verify(web.anonKey), { valid: false, code: 'ANON_KEY_REVOKED' })
  t.match(await app.anonKey.verify(defaultKey), { valid: true, name: 'default' })
  t.equal((await app.anonKey.listPrevious({ name: 'web' })).length, 2)
})

t.test('concurrent creations, patches, rotations and deletions of different names through several instances all land', async (t) => {
  const store = memoryStore()
  const apps = await Promise.all([0, 1, 2].map(async () => {
    const app = Fastify()
    app.register(anonKey, { store, jwt: { secret: JWT_SECRET } })
    t.teardown(() => app.close())
    await app.ready()
    return app
  }))
  const names = ['a', 'b', 'c', 'd', 'e', 'f']
  await Promise.all(names.map((name, i) => apps[i % 3].anonKey.createKey({ name })))
  const rotations = await Promise.all(names.flatMap((name, i) => [
    apps[i % 3].anonKey.rotate({ name }),
    apps[(i + 1) % 3].anonKey.rotate({ name }),
    apps[(i + 2) % 3].anonKey.updateKey(name, { description: `key ${name}` })
  ]))
  await Promise.all([apps[0].anonKey.deleteKey('f'), apps[1].anonKey.rotate(), apps[2].anonKey.createKey({ name: 'g' })])
  const keys = await apps[0].anonKey.listKeys()
  t.same(keys.map((key) => key.name), ['a', 'b', 'c', 'd', 'default', 'e', 'g'])
  for (const key of keys.filter((key) => key.name !== 'default' && key.name !== 'g')) {
    t.equal(key.previousKeys.length, 2, `${key.name}: both rotations landed`)
    t.equal(key.description, `key ${key.name}`, `${key.name}: the patch landed`)
  }
  t.equal((await apps[0].anonKey.listPrevious()).length, 1, 'default rotated once')
  const current = new Set(keys.map((key) => key.anonKey))
  const rotated = rotations.flatMap((result) => 'message' in result ? [result.anonKey] : [])
  t.equal(rotated.filter((key) => current.has(key)).length, 5, 'one of the two rotations of each kept name is current')
})
