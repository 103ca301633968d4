import t from 'tap'
import { generateAnonKey } from '../../lib/stores/index.js'
import { projectProblem, retiredProblem } from '../../lib/domain/snapshot-check.js'

const record = { digest: 'a'.repeat(64), rotatedAt: 1, expiresAt: 2, revokedAt: null }
const key = { name: 'web', currentKey: generateAnonKey(), previousKeys: [record], description: '', allowedOrigins: ['https://a.com'], createdAt: 1 }
const good = { version: 3, state: { keys: [key], deletedKeys: [{ ...record, name: 'old', revokedAt: 2 }] } }

t.test('a well-formed project snapshot passes', async (t) => {
  t.equal(projectProblem(good), null)
  t.equal(projectProblem({ version: 0, state: { keys: [], deletedKeys: [] } }), null)
})

t.test('every malformed part of a snapshot is named', async (t) => {
  const withKey = (change: object) => ({ ...good, state: { ...good.state, keys: [{ ...key, ...change }] } })
  const withRecord = (change: object) => withKey({ previousKeys: [{ ...record, ...change }] })
  const cases: Array<[unknown, RegExp]> = [
    [null, /version/],
    ['x', /version/],
    [{ version: 1.5, state: good.state }, /version/],
    [{ version: -1, state: good.state }, /version/],
    [{ version: 1e300, state: good.state }, /version/],
    [{ version: '7', state: good.state }, /version/],
    [{ version: 1, state: { ...good.state, revision: 5 } }, /revision/],
    [{ version: 1, state: { keys: [key, key] } }, /appears twice/],
    [{ version: 1 }, /state/],
    [{ version: 1, state: null }, /state/],
    [{ version: 1, state: { keys: [], deletedKeys: {} } }, /deletedKeys is not an array/],
    [{ version: 1, state: { keys: {}, deletedKeys: [] } }, /state/],
    [{ ...good, state: { ...good.state, keys: [null] } }, /keys\[0\] has no valid name/],
    [withKey({ name: 'Web' }), /keys\[0\] has no valid name/],
    [withKey({ currentKey: 'anon_x' }), /currentKey/],
    [withKey({ previousKeys: null }), /previousKeys is not an array/],
    [withRecord({ digest: 'xyz' }), /previousKeys\[0\]\.digest/],
    [withRecord({ digest: 7 }), /digest/],
    [withKey({ previousKeys: [null] }), /previousKeys\[0\] is not an object/],
    [withRecord({ rotatedAt: '1' }), /rotatedAt or expiresAt/],
    [withRecord({ expiresAt: Infinity }), /rotatedAt or expiresAt/],
    [withRecord({ revokedAt: 'now' }), /revokedAt/],
    [withKey({ allowedOrigins: ['https://a.com/'] }), /allowedOrigins/],
    [withKey({ allowedApps: { ios: ['x'] } }), /keys\[0\]: allowedApps\.ios\[0\]/],
    [withKey({ allowedApps: {} }), /keys\[0\]: allowedApps/],
    [withKey({ requireAttestation: 'yes' }), /keys\[0\]: requireAttestation must be true or false/],
    [withKey({ rateLimit: { max: 0, timeWindowMs: 1 } }), /keys\[0\]: rateLimit\.max/],
    [{ ...good, state: { ...good.state, deletedKeys: [{ ...record, revokedAt: undefined }] } }, /deletedKeys\[0\]\.revokedAt/]
  ]
  for (const [snapshot, message] of cases) t.match(projectProblem(snapshot), message, JSON.stringify(snapshot)?.slice(0, 100))
  t.equal(projectProblem(withKey({ allowedOrigins: null })), null)
  t.equal(projectProblem(withKey({ allowedApps: null, requireAttestation: false, rateLimit: null })), null, 'settings turned off')
  t.equal(projectProblem(withKey({ allowedApps: { android: [{ packageName: 'a.b', certSha1: 'f'.repeat(40) }] }, requireAttestation: true, rateLimit: { max: 1, timeWindowMs: 1 } })), null)
  t.equal(projectProblem(withRecord({ revokedAt: 5 })), null)
  t.equal(projectProblem({ version: 1, state: { keys: [] } }), null, 'a document without deletedKeys (written since retired keys moved out)')
  t.match(retiredProblem({}), /not an array/)
  t.match(retiredProblem([{ ...record, name: 'web' }, { ...record, digest: 'x' }]), /retired\[1\]\.digest/)
  t.equal(retiredProblem([{ ...record, name: 'web' }]), null)
})
