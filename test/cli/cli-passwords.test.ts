import t, { type Test } from 'tap'
import { maskPasswords, maskStoreString } from '../../lib/cli/mask-passwords.js'
import { runBin, runInProcess, type CliRun } from '../helpers/cli.js'
import { freePort } from '../helpers/free-port.js'
import { onPostgres } from '../helpers/postgres.js'
import { onRedis } from '../helpers/redis.js'
import { DATABASE_URL, REDIS_URL, uniqueNamespace } from '../helpers/services.js'

// Two cases start the CLI as a process, which loads TypeScript afresh: seconds each on a busy machine.
t.setTimeout(120_000)

/** Every secret below holds this, so that one search finds any part of any of them that was printed. */
const SECRET = 'Zq7Secret'

/** Asserts that nothing the CLI printed holds any part of a secret. */
function printsNoSecret (t: Test, run: CliRun, label: string): void {
  const printed = `${run.stdout}${run.stderr}`
  t.notMatch(printed, SECRET, `${label}: the password is not printed (${printed.trim().replace(/\n/g, ' | ')})`)
  t.notMatch(printed, 'Zq7', `${label}: nor a part of it`)
}

t.test('a store string is masked as text, whatever a URL parser would make of it', async (t) => {
  const cases: Array<[string, string]> = [
    // A password a parser cannot read: the URL does not parse, or parses into another host.
    [`postgres://postgres:${SECRET}/x@127.0.0.1:5432/test`, 'postgres://postgres:***@127.0.0.1:5432/test'],
    [`postgres://u:1234/${SECRET}@db/app`, 'postgres://u:***@db/app'],
    [`postgres://u:${SECRET}#x@db/app`, 'postgres://u:***@db/app'],
    [`postgres://u:${SECRET}?x@db/app`, 'postgres://u:***@db/app'],
    [`postgres://u:${SECRET}@x@db/app`, 'postgres://u:***@db/app'],
    [`postgres://u:my ${SECRET}@db/app`, 'postgres://u:***@db/app'],
    [`postgres://u:"${SECRET}'@db/app`, 'postgres://u:***@db/app'],
    [`postgresql://u:${SECRET}%2Fx@db:5432/app`, 'postgresql://u:***@db:5432/app'],
    // No scheme, or no //.
    [`postgres:${SECRET}@db/app`, 'postgres:***@db/app'],
    [`u:${SECRET}@db:5432/app`, 'u:***@db:5432/app'],
    // Passwords in parameters, in any case and however encoded, and libpq's key=value form.
    [`postgres://u@db/app?password=${SECRET}&sslmode=require`, 'postgres://u@db/app?password=***&sslmode=require'],
    [`postgres://u@db/app?sslmode=verify-full&sslpassword=${SECRET}`, 'postgres://u@db/app?sslmode=verify-full&sslpassword=***'],
    [`postgres://db/app?PASSWORD=${SECRET}`, 'postgres://db/app?PASSWORD=***'],
    [`postgres://db/app?pass%77ord=${SECRET}`, 'postgres://db/app?pass%77ord=***'],
    [`host=db user=u password=${SECRET} dbname=app`, 'host=db user=u password=*** dbname=app'],
    [`host=db password = '${SECRET} x' dbname=app`, 'host=db password = *** dbname=app'],
    // Redis: a password with or without a user, a password alone, in the query.
    [`redis://:${SECRET}@127.0.0.1:6379/2`, 'redis://:***@127.0.0.1:6379/2'],
    [`rediss://default:${SECRET}@cache:6380`, 'rediss://default:***@cache:6380'],
    [`redis://${SECRET}@cache:6379`, 'redis://***@cache:6379'],
    [`redis://cache:6379?password=${SECRET}`, 'redis://cache:6379?password=***'],
    // Nothing secret: printed as it is.
    ['postgres://postgres@127.0.0.1:5432/test', 'postgres://postgres@127.0.0.1:5432/test'],
    ['postgres://db/app?sslmode=require&application_name=api', 'postgres://db/app?sslmode=require&application_name=api'],
    ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379'],
    ['sqlite:/var/lib/my-app/keys.db', 'sqlite:/var/lib/my-app/keys.db'],
    // A name no parser decodes to a password (a malformed escape) is no password parameter.
    ['postgres://db/app?pass%zzword=x', 'postgres://db/app?pass%zzword=x']
  ]
  for (const [given, shown] of cases) t.equal(maskStoreString(given), shown, given)
})

t.test('a message quoting a store string, as it is or JSON-escaped, keeps its words and loses the password', async (t) => {
  const store = `postgres://u:a "${SECRET}@db/app?sslpassword=${SECRET}`
  const message = `--store must be a URL, got ${JSON.stringify(store)}; it was ${store}.`
  t.equal(maskPasswords(message, [store]), '--store must be a URL, got "postgres://u:***@db/app?sslpassword=***"; it was postgres://u:***@db/app?sslpassword=***.')
  t.equal(maskPasswords(`connect to redis://:${SECRET}@cache:6379 failed; password=${SECRET}.`), 'connect to redis://:***@cache:6379 failed; password=***', 'store strings it was not told of too (a full stop may be part of a password)')
  t.equal(maskPasswords('No previous key has the fingerprint 0123456789ab.'), 'No previous key has the fingerprint 0123456789ab.', 'other words are left alone')
})

t.test('no command line prints a password: --store, --store=, a forgotten --store, DATABASE_URL, REDIS_URL, with and without --json', async (t) => {
  const port = await freePort() // nothing listens there: the stores that parse are refused at once
  const stores = [
    `postgres://postgres:${SECRET}/x@127.0.0.1:${port}/test`,
    `postgres://u:1234/${SECRET}@127.0.0.1:${port}/test`,
    `postgres://u:my ${SECRET}@127.0.0.1:${port}/test`,
    `postgres://postgres:${SECRET}@127.0.0.1:${port}/test`,
    `postgres://postgres@127.0.0.1:${port}/test?password=${SECRET}`,
    `postgres://postgres@127.0.0.1:${port}/test?sslpassword=${SECRET}`,
    `redis://:${SECRET}@127.0.0.1:${port}`,
    `redis://:${SECRET}#x@127.0.0.1:${port}`,
    `redis://127.0.0.1:${port}?password=${SECRET}`,
    `mysql://root:${SECRET}@127.0.0.1:${port}/app`,
    `sqlite://u:${SECRET}@host/keys.db`,
    `host=127.0.0.1 port=${port} password=${SECRET}`
  ]
  for (const store of stores) {
    const runs: Array<[string, Promise<CliRun>]> = [
      ['--store', runInProcess(['get', '--store', store])],
      ['--store=', runInProcess(['rotate', `--store=${store}`, '--json'])],
      ['forgotten --store', runInProcess(['list', store])],
      ['DATABASE_URL', runInProcess(['keys', '--json'], { DATABASE_URL: store })],
      ['REDIS_URL', runInProcess(['revoke', '--all'], { REDIS_URL: store })]
    ]
    for (const [how, running] of runs) {
      const run = await running
      t.not(run.code, 0, `${how} ${store}: exits ${run.code}`)
      printsNoSecret(t, run, `${how} ${store}`)
    }
  }
})

t.test('a store string the CLI would misread says so, naming where it came from, with the password masked', async (t) => {
  const fromEnv = await runInProcess(['get'], { DATABASE_URL: `postgres://u:1234/${SECRET}@127.0.0.1:5432/test` })
  t.equal(fromEnv.code, 2)
  t.match(fromEnv.stderr, 'DATABASE_URL holds a password that the URL does not read as one: postgres://u:***@127.0.0.1:5432/test.\nPercent-encode the password\'s special characters (/ %2F')
  const unparsed = await runInProcess(['get', '--json'], { REDIS_URL: `redis://:${SECRET}/x@127.0.0.1:6379` })
  t.equal(unparsed.code, 2)
  t.match(JSON.parse(unparsed.stderr), { error: 'INVALID_INPUT', message: /^REDIS_URL must be a URL .*, got "redis:\/\/:\*\*\*@127\.0\.0\.1:6379"\.$/, nextActions: /^Percent-encode/ })
  const plain = await runInProcess(['get', '--store', 'not a url'])
  t.match(plain, { code: 2, stderr: 'got "not a url".\nRun fastify-anon-key --help for the commands and options.\n' }, 'a string without a password needs no encoding advice')
  const unknown = await runInProcess(['get', '--store', `mysql://root:${SECRET}@db/app`])
  t.match(unknown, { code: 2, stderr: /--store has the unknown scheme "mysql:" \(mysql:\/\/root:\*\*\*@db\/app\)\./ })
})

t.test('as a process, the store that is down is named without its password on stderr', async (t) => {
  const port = await freePort()
  const [postgres, redis] = await Promise.all([
    runBin(['get'], { DATABASE_URL: `postgres://postgres:${SECRET}@127.0.0.1:${port}/test?sslpassword=${SECRET}` }),
    runBin(['get', '--json', '--store', `redis://default:${SECRET}@127.0.0.1:${port}`])
  ])
  t.equal(postgres.code, 3, postgres.stderr)
  t.match(postgres.stderr, `; store: postgres://postgres:***@127.0.0.1:${port}/test?sslpassword=***.`)
  t.equal(redis.code, 3, redis.stderr)
  t.match(JSON.parse(redis.stderr).message, `Redis at redis://default:***@127.0.0.1:${port} did not answer`)
  printsNoSecret(t, postgres, 'DATABASE_URL')
  printsNoSecret(t, redis, '--store redis')
})

onPostgres(t, (t) => {
  t.test('a store that answers, but holds no key, is named with its passwords masked', async (t) => {
    // The test server trusts every connection from here, so any password logs in.
    const url = new URL(DATABASE_URL)
    url.password = SECRET
    url.searchParams.set('sslpassword', SECRET)
    const namespace = uniqueNamespace('cli_masked')
    const run = await runInProcess(['get', '--namespace', namespace], { DATABASE_URL: url.toString() })
    t.equal(run.code, 1, run.stderr)
    url.password = '***'
    t.match(run.stderr, `No anon key yet in namespace "${namespace}" of ${url.toString().replace('sslpassword=Zq7Secret', 'sslpassword=***').replace('%2A%2A%2A', '***')}.`)
    printsNoSecret(t, run, 'DATABASE_URL with a password and sslpassword')
  })
})

onRedis(t, (t) => {
  t.test('a Redis that refuses the password is named without it', async (t) => {
    const url = new URL(REDIS_URL)
    url.username = 'nobody'
    url.password = SECRET
    const run = await runInProcess(['get', '--json', '--store', url.toString()])
    t.not(run.code, 0, run.stderr)
    t.match(JSON.parse(run.stderr).message, `redis://nobody:***@${url.host}`)
    printsNoSecret(t, run, 'a Redis user that does not exist')
  })
})
