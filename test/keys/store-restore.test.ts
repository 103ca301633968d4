import t from 'tap'
import { internalsOf, startApp } from '../helpers/app.js'
import { onEveryBackend } from '../helpers/backends.js'
import { eventually } from '../helpers/eventually.js'

/**
 * A store put back to an earlier state behind the instances' backs (a restore from a backup, a Redis that lost
 * its data, a failover that lost a write): the store's document is the truth, also where its version is lower than
 * the one an instance holds. After "rotate, then revoke all", every instance refuses the key it held before the
 * restore and accepts the new one within 2 s.
 */
t.setTimeout(120_000)

onEveryBackend(t, async (t, backend) => {
  const first = await startApp(t, { store: backend.store() })
  const second = await startApp(t, { store: backend.store() })
  const saved = await backend.save()
  // More changes than the writes after the restore (a rotation, a revocation, the new key's first use), so that
  // the store's version ends below the one the instances held.
  for (let change = 0; change < 5; change++) await first.anonKey.rotate({ gracePeriodHours: 0 })
  const leaked = await first.anonKey.get() as string
  await eventually('the second instance holding the last key', () => internalsOf(second).single!.defaultKey === leaked, 5000)
  const heldVersion = internalsOf(second).single!.version

  await backend.putBack(saved)
  const { anonKey: fresh } = await first.anonKey.rotate({ gracePeriodHours: 1 })
  await first.anonKey.revokePrevious()
  const started = performance.now()
  for (const [label, app] of [['the writer', first], ['the other instance', second]] as const) {
    await eventually(`${label} refusing the pre-restore key and accepting the new one`, async () =>
      (await app.anonKey.verify(leaked)).valid === false && (await app.anonKey.verify(fresh)).valid, 2000, { started })
    const data = await app.inject({ url: '/data', headers: { authorization: `Bearer ${leaked}` } })
    t.equal(data.statusCode, 401, `${label}'s verifyAnonKey refuses the pre-restore key`)
  }
  t.ok(internalsOf(second).single!.version < heldVersion, `${backend.name}: the instances took a version lower than the one they held`)
  t.equal(await second.anonKey.get(), fresh, 'GET shows the new key')
})
