import t from 'tap'
import { sqliteStore } from '../../lib/index.js'
import { generateAnonKey } from '../../lib/stores/index.js'
import { keyHandle } from '../../lib/conformance/index.js'
import { runInProcess } from '../helpers/cli.js'
import { openDatabase, sqliteFile } from '../helpers/sqlite.js'

t.test('rotate --grace-starts-at first-use starts the old key\'s grace at the new key\'s first use', async (t) => {
  const file = sqliteFile(t)
  const store = sqliteStore({ database: openDatabase(t, file) })
  await keyHandle(store).initialize(generateAnonKey())
  const run = await runInProcess(['rotate', '--grace-hours', '2', '--grace-starts-at', 'first-use', '--json', '--store', `sqlite:${file}`])
  t.equal(run.code, 0, run.stderr)
  const [key] = (await store.load('')).state.keys
  t.same([key.previousKeys[0].graceStartsAt, key.previousKeys[0].graceMs, key.currentKeyFirstUsedAt], ['first-use', 2 * 3_600_000, null])
  t.equal(key.previousKeys[0].expiresAt - key.previousKeys[0].rotatedAt, 720 * 3_600_000, 'the old key verifies at the latest maxGracePeriodHours after the rotation')
  const bad = await runInProcess(['rotate', '--grace-starts-at', 'soon', '--store', `sqlite:${file}`])
  t.equal(bad.code, 2)
  t.match(bad.stderr, '--grace-starts-at must be rotation or first-use, got "soon".')
})
