import t, { type Test } from 'tap'
import { memoryStore, postgresStore, redisStore, type AnonKeyStore } from '../../lib/index.js'
import { digestOf, generateAnonKey } from '../../lib/stores/index.js'
import { SINGLE_PROJECT, type ProjectState } from '../../lib/stores/index.js'
import { keyHandle } from '../../lib/conformance/index.js'
import { startApp } from '../helpers/app.js'
import { createPool, dropTableAtEnd, onPostgres } from '../helpers/postgres.js'
import { onRedis, redisClient, redisNamespaces } from '../helpers/redis.js'
import { uniqueNamespace } from '../helpers/services.js'

const HOUR_MS = 60 * 60 * 1000

/** What 0.1 held for a namespace after an initialize, two rotations, a revocation and usage reports. */
function legacyState (now: number) {
  const [oldest, older, current] = [generateAnonKey(), generateAnonKey(), generateAnonKey()]
  return {
    current,
    previous: [
      { digest: digestOf(older), rotatedAt: now - 10, expiresAt: now + HOUR_MS, revokedAt: null },
      { digest: digestOf(oldest), rotatedAt: now - 20, expiresAt: now + HOUR_MS, revokedAt: now - 5 }
    ],
    usage: { digest: digestOf(older), requests: 12, lastSeenAt: now - 1 },
    retired: [oldest, older],
    version: 4
  }
}

/** The migrated store: 0.1's key is `default`, its records as they were, and the first change writes the new form. */
async function checkMigrated (t: Test, store: AnonKeyStore, legacy: ReturnType<typeof legacyState>, now: number): Promise<void> {
  const key = keyHandle(store)
  const loaded = await key.load()
  t.equal(loaded.version, legacy.version, 'the 0.1 version carries over, so caches order snapshots across the upgrade')
  t.equal(loaded.currentKey, legacy.current, 'the current key is the default key')
  t.same(loaded.previousKeys, [
    { ...legacy.previous[0], requests: legacy.usage.requests, lastSeenAt: legacy.usage.lastSeenAt },
    legacy.previous[1]
  ], 'every previous record kept: expiry, revocation and usage')
  const app = await startApp(t, { store })
  t.equal(await app.anonKey.get(), legacy.current, 'the plugin serves the 0.1 key after the upgrade')
  t.match(await app.anonKey.verify(legacy.retired[1]), { valid: true }, 'a previous key still verifies')
  t.match(await app.anonKey.verify(legacy.retired[0]), { valid: false, code: 'ANON_KEY_REVOKED' }, 'a revoked one is still recognised')
  const rotated = await key.rotate({ newKey: generateAnonKey(), now, expiresAt: now + HOUR_MS })
  t.equal(rotated?.snapshot.version, legacy.version + 1, 'the first change writes the new form, one version on')
  t.same((await key.load()).previousKeys.map((record) => record.digest), [digestOf(legacy.current), legacy.previous[0].digest], 'the old key joined the valid migrated record')
  t.same((await key.retired()).map((record) => [record.name, record.digest, record.revokedAt]), [['default', legacy.previous[1].digest, legacy.previous[1].revokedAt]],
    'the revoked 0.1 record moved to the retired keys')
  t.match(await app.anonKey.verify(legacy.retired[0]), { valid: false, code: 'ANON_KEY_REVOKED' }, 'and is still recognised')
}

/**
 * A document as the unreleased main branch wrote it: retired records inside `previousKeys` after the valid ones,
 * and the keys of deleted names in `deletedKeys`.
 */
function mainDocument (now: number) {
  const [current, valid, expired, revoked, deleted] = Array.from({ length: 5 }, () => generateAnonKey())
  const state: ProjectState = {
    keys: [{
      name: 'default',
      currentKey: current,
      previousKeys: [
        { digest: digestOf(valid), rotatedAt: now - 10, expiresAt: now + HOUR_MS, revokedAt: null },
        { digest: digestOf(expired), rotatedAt: now - 20, expiresAt: now - 15, revokedAt: null },
        { digest: digestOf(revoked), rotatedAt: now - 30, expiresAt: now + HOUR_MS, revokedAt: now - 25 }
      ],
      description: '',
      allowedOrigins: null,
      createdAt: now - 40
    }],
    deletedKeys: [{ name: 'web', digest: digestOf(deleted), rotatedAt: now - 5, expiresAt: now - 5, revokedAt: now - 5 }]
  }
  return { state, valid, expired, revoked, deleted }
}

/** A main-era document is read as it is, answers for its retired keys, and is split by the next change, nothing lost. */
async function checkMainDocument (t: Test, store: AnonKeyStore): Promise<void> {
  const now = Date.now()
  const main = mainDocument(now)
  await store.update(SINGLE_PROJECT, () => ({ result: null, next: main.state }))
  const app = await startApp(t, { store })
  const codes = async (): Promise<unknown[]> => Promise.all([main.valid, main.expired, main.revoked, main.deleted].map(async (key) => {
    const result = await app.anonKey.verify(key)
    return result.valid ? 'valid' : result.code
  }))
  const expected = ['valid', 'ANON_KEY_EXPIRED', 'ANON_KEY_REVOKED', 'ANON_KEY_REVOKED']
  t.same(await codes(), expected, 'read as it is')
  await app.anonKey.rotate({ gracePeriodHours: 1 })
  const { state } = await store.load(SINGLE_PROJECT)
  t.equal(state.deletedKeys, undefined, 'the next change writes the new form')
  t.equal(state.keys[0].previousKeys.length, 2, 'with only the keys that verify in the document')
  t.same((await store.loadRetired(SINGLE_PROJECT)).map((record) => record.name).sort(), ['default', 'default', 'web'], 'and every other record among the retired keys')
  t.same(await codes(), expected, 'nothing lost')
}

t.test('a document written by main (retired records inside it) is read as it is and split by the next change, on the memory store', async (t) => {
  await checkMainDocument(t, memoryStore())
})

t.test('a 0.1 memory state migrates through fromLegacy (see domain-transitions); a fresh memory store starts empty', async (t) => {
  t.same(await keyHandle(memoryStore()).load(), { version: 0, currentKey: null, previousKeys: [] })
})

onPostgres(t, (t) => {
  t.test('a namespace written by 0.1 (a row of anon_key_store) becomes the default key, nothing lost', async (t) => {
    const pool = createPool(t)
    const tableName = uniqueNamespace('anon_projects')
    const legacyTableName = uniqueNamespace('anon_legacy')
    dropTableAtEnd(t, pool, tableName)
    dropTableAtEnd(t, pool, legacyTableName)
    const now = Date.now()
    const legacy = legacyState(now)
    // Written as 0.1 wrote it: its table, its row, usage figures inside the previous-key records.
    await pool.query(`CREATE TABLE "${legacyTableName}" (namespace text PRIMARY KEY, current_key text NOT NULL, version bigint NOT NULL, previous_keys jsonb NOT NULL DEFAULT '[]'::jsonb)`)
    const records = [{ ...legacy.previous[0], requests: legacy.usage.requests, lastSeenAt: legacy.usage.lastSeenAt }, legacy.previous[1]]
    await pool.query(`INSERT INTO "${legacyTableName}" VALUES ('app', $1, $2, $3::jsonb)`, [legacy.current, legacy.version, JSON.stringify(records)])
    const store = postgresStore({ pool, namespace: 'app', tableName, legacyTableName })
    await checkMigrated(t, store, legacy, now)
    const { rows } = await pool.query(`SELECT * FROM "${legacyTableName}"`)
    t.equal(rows[0].current_key, legacy.current, 'the 0.1 row is left as it was')
    t.same(await keyHandle(postgresStore({ pool, namespace: 'other', tableName, legacyTableName })).load(), { version: 0, currentKey: null, previousKeys: [] }, 'a namespace 0.1 never wrote starts empty')
    t.same((await store.load('tenant-a')).version, 0, 'tenants never read the 0.1 row')
  })

  t.test('a document written by main is read as it is and split by the next change, on PostgreSQL', async (t) => {
    const pool = createPool(t)
    const tableName = uniqueNamespace('anon_projects')
    dropTableAtEnd(t, pool, tableName)
    await checkMainDocument(t, postgresStore({ pool, namespace: 'app', tableName }))
  })

  t.test('without a 0.1 table a namespace starts empty', async (t) => {
    const pool = createPool(t)
    const tableName = uniqueNamespace('anon_projects')
    dropTableAtEnd(t, pool, tableName)
    const store = postgresStore({ pool, tableName, legacyTableName: uniqueNamespace('absent') })
    t.same(await keyHandle(store).load(), { version: 0, currentKey: null, previousKeys: [] })
    t.equal((await keyHandle(store).initialize(generateAnonKey())).version, 1)
  })
})

onRedis(t, (t) => {
  const admin = redisClient(t)
  const { namespace } = redisNamespaces(t, admin)

  t.test('a namespace written by 0.1 (a state hash and a usage hash) becomes the default key, nothing lost', async (t) => {
    const ns = namespace('legacy')
    const now = Date.now()
    const legacy = legacyState(now)
    // Written as 0.1 wrote it: usage figures in their own hash.
    await admin.hset(`{fastify-anon-key:${ns}}:state`, 'version', legacy.version, 'current', legacy.current, 'previous', JSON.stringify(legacy.previous))
    await admin.hset(`{fastify-anon-key:${ns}}:usage`, `requests:${legacy.usage.digest}`, legacy.usage.requests, `lastSeenAt:${legacy.usage.digest}`, legacy.usage.lastSeenAt)
    const store = redisStore({ client: redisClient(t), namespace: ns })
    await checkMigrated(t, store, legacy, now)
    t.equal(await admin.hget(`{fastify-anon-key:${ns}}:state`, 'current'), legacy.current, 'the 0.1 hash is left as it was')
    t.same((await store.load('tenant-a')).version, 0, 'tenants never read the 0.1 hash')
  })

  t.test('concurrent first changes of a 0.1 namespace through several instances all land', async (t) => {
    const ns = namespace('legacyrace')
    const now = Date.now()
    const legacy = legacyState(now)
    await admin.hset(`{fastify-anon-key:${ns}}:state`, 'version', legacy.version, 'current', legacy.current, 'previous', JSON.stringify(legacy.previous))
    const stores = [0, 1, 2].map(() => redisStore({ client: redisClient(t), namespace: ns }))
    await Promise.all(stores.map((store, i) => keyHandle(store).rotate({ newKey: generateAnonKey(), now: now + i, expiresAt: now + HOUR_MS })))
    const after = await keyHandle(stores[0]).load()
    t.equal(after.version, legacy.version + 3)
    t.equal(after.previousKeys.length, 4, 'three rotations on top of the valid migrated record')
    t.equal((await keyHandle(stores[0]).retired()).length, 1, 'and the revoked one among the retired keys')
  })

  t.test('a document written by main is read as it is and split by the next change, on Redis', async (t) => {
    await checkMainDocument(t, redisStore({ client: redisClient(t), namespace: namespace('main') }))
  })
})
