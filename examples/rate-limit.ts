// Slowing down anon key guessing with @fastify/rate-limit: a client that keeps sending wrong keys gets 429 after
// a few failures, while every request that carries a valid key goes through, however many there are (a busy app
// behind one NAT address is never throttled because a neighbour guesses keys). Run with: npx tsx examples/rate-limit.ts
//
// The trick is to split verifyAnonKey's decision from its answer: check the key first and keep the refusal,
// then count only requests without a valid key (allowList lets the others through uncounted), then refuse.
import rateLimit from '@fastify/rate-limit'
import Fastify, { type FastifyInstance, type FastifyRequest, type onRequestHookHandler } from 'fastify'
import anonKey, { verifyAnonKey } from '../lib/index.js'
import { closeOnSignals, devAdminToken, envOr, jwtSecretFromEnv, listen, portFromEnv } from './dev-admin.js'

export interface FailureLimit {
  /** Requests without a valid key one client may send per window. Default 10. */
  maxFailures?: number
  /** The window, in ms or as '1 minute'. Default '1 minute'. */
  timeWindow?: number | string
}

export async function build (jwtSecret: string, { maxFailures = 10, timeWindow = '1 minute' }: FailureLimit = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: { level: envOr('LOG_LEVEL', 'info') } })
  await app.register(anonKey, { jwt: { secret: jwtSecret } })
  // global: false, so that nothing is limited unless a route asks for it.
  await app.register(rateLimit, { global: false })

  // 1. Check the key; keep the refusal for step 3 instead of sending it now. request.anonKey is set when valid.
  const refusals = new WeakMap<FastifyRequest, unknown>()
  const checkAnonKey: onRequestHookHandler = function (request, reply, done) {
    verifyAnonKey(request, reply, (refusal?: unknown) => {
      if (refusal !== undefined) refusals.set(request, refusal)
      done()
    })
  }

  // 2. Count requests without a valid key, per client IP (behind a proxy, set Fastify's trustProxy so that
  //    request.ip is the client's). A request with a valid key is in the allow list: never counted, never limited.
  const limitFailures = app.rateLimit({
    max: maxFailures,
    timeWindow,
    allowList: (request) => request.anonKey !== null,
    errorResponseBuilder: (request, context) => ({
      statusCode: 429,
      error: 'TOO_MANY_FAILED_ATTEMPTS',
      message: `Too many requests without a valid anon key. Retry in ${context.after}.`,
      nextActions: 'Send the current anon key in the Authorization header as "Bearer anon_…".'
    })
  })

  // 3. Refuse what step 1 refused, with the plugin's own 401 (AUTH_INVALID_CREDENTIALS, ANON_KEY_EXPIRED, …).
  const refuseWithoutKey: onRequestHookHandler = function (request, reply, done) {
    done(refusals.get(request) as Error | undefined)
  }

  const guard = [checkAnonKey, limitFailures, refuseWithoutKey]
  app.get('/api/hello', { onRequest: guard }, async (request) => ({ hello: 'anon', key: request.anonKey }))
  return app
}

async function main (): Promise<void> {
  const jwtSecret = jwtSecretFromEnv()
  const app = await build(jwtSecret, { maxFailures: 5 })
  const base = await listen(app, portFromEnv(3004))
  closeOnSignals(app)
  const token = devAdminToken(jwtSecret)
  console.log(`Rate-limit example listening on ${base}: 5 requests without a valid anon key per minute per client, then 429.`)
  if (token !== null) {
    console.log(`
  export ANON_KEY=$(curl -s ${base}/api/metadata/anon-key -H "Authorization: Bearer ${token}" | node -pe 'JSON.parse(require("fs").readFileSync(0)).anonKey')
  for i in 1 2 3 4 5 6; do curl -s -o /dev/null -w '%{http_code} ' ${base}/api/hello -H "Authorization: Bearer anon_guess$i"; done; echo
  curl -s ${base}/api/hello -H "Authorization: Bearer $ANON_KEY"    # still 200 from the same address
`)
  }
}

// A failure to start is an unhandled rejection: Node prints it and exits with code 1.
if (require.main === module) main()
