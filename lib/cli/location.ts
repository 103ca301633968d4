/** Where a store command looked, for messages: the store (passwords masked), the namespace, the tenant. */
export interface StoreLocation {
  shown: string
  namespace: string
  tenant: string | null
}

/** `namespace "my-app" of postgres://postgres:***@db:5432/app`, then `, tenant "acme"` when there is one. */
export function describeLocation ({ shown, namespace, tenant }: StoreLocation): string {
  return `namespace ${JSON.stringify(namespace)} of ${shown}${tenant === null ? '' : `, tenant ${JSON.stringify(tenant)}`}`
}

/** What to do when a store holds no key where the CLI looked. */
export function noKeyAdvice ({ tenant }: StoreLocation): string {
  return tenant === null
    ? 'Start the app once (it creates the key on start-up), or check --store and --namespace against what your app gives its store.'
    : 'The app creates a tenant\'s key on its first admin request for it (or app.anonKey.forTenant(id).initialize()); else check --tenant, --store and --namespace.'
}
