import fc from 'fast-check'
import t from 'tap'
import { postgresStore } from '../../lib/stores/postgres/postgres-store.js'
import { CLOCK_START, fakeDateNow } from '../helpers/clock.js'
import { runPluginModel, startInstance, type Observed } from '../helpers/plugin-model.js'
import { createPool, dropTableAtEnd, onPostgres } from '../helpers/postgres.js'
import { propertySettings } from '../helpers/property.js'
import { uniqueNamespace } from '../helpers/services.js'
import { runArbitrary, runStoreModel } from '../helpers/store-model.js'
import { fingerprintOfDigest } from '../../lib/domain/key.js'

// Alone this file takes seconds; in the full suite on 2 shared cores it can pass tap's 30 s default.
t.setTimeout(120_000)

t.test('the PostgreSQL store follows the model', async (t) => {
  onPostgres(t, (t) => {
    const tableName = uniqueNamespace('anon_prop')

    t.test('through random initializations, rotations (some concurrent), revocations and clock jumps, and never holds a previous key in plain text', async (t) => {
      const pool = createPool(t, { max: 6 })
      dropTableAtEnd(t, pool, tableName)
      const settings = propertySettings(t, 60)
      let steps = 0
      await fc.assert(fc.asyncProperty(runArbitrary(20), async (run) => {
        steps += run.length
        const namespace = uniqueNamespace('prop')
        const store = postgresStore({ pool, namespace, tableName })
        try {
          const model = await runStoreModel(store, run, CLOCK_START)
          const { rows } = await pool.query(`SELECT row_to_json(t)::text AS row FROM "${tableName}" t`)
          const raw = rows.map((row: { row: string }) => row.row).join('\n')
          for (const record of model.previous) {
            if (raw.includes(record.key.slice(5))) throw new Error(`PostgreSQL holds previous key ${fingerprintOfDigest(record.digest)} in plain text`)
          }
        } finally {
          await store.close()
        }
      }), settings)
      t.comment(`${settings.numRuns} runs, ${steps} store operations on PostgreSQL checked against the model`)
      t.pass('every run matched the model')
    })

    t.test('two app instances on one PostgreSQL namespace answer every verification as the model does, changes arriving by LISTEN/NOTIFY', async (t) => {
      const pools = [createPool(t, { max: 4 }), createPool(t, { max: 4 })]
      dropTableAtEnd(t, pools[0], tableName)
      const settings = propertySettings(t, 15)
      let steps = 0
      await fc.assert(fc.asyncProperty(runArbitrary(12), async (run) => {
        steps += run.length
        const namespace = uniqueNamespace('propapp')
        const stores = pools.map((pool) => postgresStore({ pool, namespace, tableName }))
        const observed: Observed = { logs: [], events: [] }
        const apps = [await startInstance(stores[0], observed), await startInstance(stores[1], observed)]
        const clock = fakeDateNow(CLOCK_START)
        try {
          await runPluginModel(apps, stores[0], run, clock, observed, 5000)
        } finally {
          clock.restore()
          await Promise.all(apps.map((app) => app.close()))
          await Promise.all(stores.map((store) => store.close()))
        }
      }), settings)
      t.comment(`${settings.numRuns} runs, ${steps} operations through app.anonKey on PostgreSQL checked against the model`)
      t.pass('every run matched the model')
    })
  })
})
