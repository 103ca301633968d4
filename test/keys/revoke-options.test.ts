import t from 'tap'
import type { RevokedEvent } from '../../lib/index.js'
import { fingerprintOf } from '../../lib/stores/index.js'
import { startApp } from '../helpers/app.js'

t.test('revokePrevious({ name, fingerprint }) names the key as rotate({ name }) does; the older form still works', async (t) => {
  const app = await startApp(t)
  const web = await app.anonKey.createKey({ name: 'web' })
  const defaultKey = await app.anonKey.get() as string
  await app.anonKey.rotate({ name: 'web', gracePeriodHours: 1 })
  const second = (await app.anonKey.getKey('web')).anonKey
  await app.anonKey.rotate({ name: 'web', gracePeriodHours: 1 })
  await app.anonKey.rotate({ gracePeriodHours: 1 })
  const events: RevokedEvent[] = []
  app.anonKey.on('revoked', (event) => { events.push(event) })

  t.same(await app.anonKey.revokePrevious({ name: 'web', fingerprint: fingerprintOf(web.anonKey) }, { actor: 'ops' }), { success: true, revoked: 1 })
  t.match(events.at(-1), { name: 'web', actor: 'ops', scope: 'one', fingerprints: [fingerprintOf(web.anonKey)] })
  await t.rejects(app.anonKey.revokePrevious({ name: 'web', fingerprint: fingerprintOf(web.anonKey) }), { code: 'NOT_FOUND' }, 'once revoked, it is not found')
  t.same(await app.anonKey.revokePrevious(fingerprintOf(second), { name: 'web' }), { success: true, revoked: 1 }, 'revokePrevious(fingerprint, { name })')
  t.same(await app.anonKey.listPrevious({ name: 'web' }), [])

  t.equal((await app.anonKey.listPrevious()).length, 1, 'default kept its previous key')
  t.same(await app.anonKey.revokePrevious({}), { success: true, revoked: 1 }, 'no name: default, every previous key')
  t.match(events.at(-1), { name: 'default', scope: 'all', fingerprints: [fingerprintOf(defaultKey)] })
})

t.test('revokePrevious({ name, fingerprint }) refuses a malformed fingerprint and an unknown name', async (t) => {
  const app = await startApp(t)
  await app.anonKey.createKey({ name: 'web' })
  await t.rejects(app.anonKey.revokePrevious({ name: 'web', fingerprint: 'ABC' }), { code: 'INVALID_INPUT', message: /fingerprint must be 12 lowercase hex/ })
  await t.rejects(app.anonKey.revokePrevious({ name: 'android' }), { code: 'NOT_FOUND' })
})
