import fc from 'fast-check'
import t from 'tap'
import { memoryStore } from '../../lib/index.js'
import { CLOCK_START, fakeDateNow } from '../helpers/clock.js'
import { runPluginModel, startInstance, type Observed } from '../helpers/plugin-model.js'
import { propertySettings } from '../helpers/property.js'
import { runArbitrary, runStoreModel } from '../helpers/store-model.js'

// Alone this file takes seconds; in the full suite on 2 shared cores it can pass tap's 30 s default.
t.setTimeout(120_000)

t.test('the memory store follows the model through random initializations, rotations, revocations and clock jumps', async (t) => {
  const settings = propertySettings(t, 300)
  let steps = 0
  await fc.assert(fc.asyncProperty(runArbitrary(30), async (run) => {
    steps += run.length
    await runStoreModel(memoryStore(), run, CLOCK_START)
  }), settings)
  t.comment(`${settings.numRuns} runs, ${steps} store operations checked against the model`)
  t.pass('every run matched the model')
})

t.test('two app instances on one memory store answer every verification as the model does, with time faked', async (t) => {
  const settings = propertySettings(t, 100)
  let steps = 0
  await fc.assert(fc.asyncProperty(runArbitrary(20), async (run) => {
    steps += run.length
    const store = memoryStore()
    const observed: Observed = { logs: [], events: [] }
    const apps = [await startInstance(store, observed), await startInstance(store, observed)]
    const clock = fakeDateNow(CLOCK_START)
    try {
      await runPluginModel(apps, store, run, clock, observed, 2000)
    } finally {
      clock.restore()
      await Promise.all(apps.map((app) => app.close()))
    }
  }), settings)
  t.comment(`${settings.numRuns} runs, ${steps} operations through app.anonKey checked against the model`)
  t.pass('every run matched the model')
})
