import t from 'tap'
import { redisStore } from '../../lib/index.js'
import { namedKeyScenarios, tenantScenarios } from '../helpers/keys-scenarios.js'
import { onRedis, redisClient, redisNamespaces } from '../helpers/redis.js'

onRedis(t, (t) => {
  const { namespace } = redisNamespaces(t, redisClient(t))
  const makeStore = (name: string) => redisStore({ client: redisClient(t), namespace: name })
  namedKeyScenarios(t, makeStore, () => namespace('named'))
  tenantScenarios(t, makeStore, () => namespace('tenants'))
})
