import type { UseCounter } from '../../lib/keys/project-keys.js'

/** Counts nothing: for a KeyCache used outside the plugin. */
export const UNCOUNTED: UseCounter = { counting () {}, firstUse () {}, refusedKey () {}, refusedClient () {} }
