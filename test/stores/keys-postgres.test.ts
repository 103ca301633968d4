import t from 'tap'
import { postgresStore } from '../../lib/index.js'
import { namedKeyScenarios, tenantScenarios } from '../helpers/keys-scenarios.js'
import { createPool, dropTableAtEnd, onPostgres } from '../helpers/postgres.js'
import { uniqueNamespace } from '../helpers/services.js'

onPostgres(t, (t) => {
  const tableName = uniqueNamespace('anon_keys')
  dropTableAtEnd(t, createPool(t), tableName)
  const makeStore = (namespace: string) => postgresStore({ pool: createPool(t), namespace, tableName })
  namedKeyScenarios(t, makeStore, () => uniqueNamespace('named'))
  tenantScenarios(t, makeStore, () => uniqueNamespace('tenants'))
})
