import { randomBytes } from 'node:crypto'
import type { ProjectState } from './project.js'
import type { StateChange } from './transitions.js'

/**
 * Every write gives the document a new random revision. A version number alone cannot tell two documents apart
 * when a store lost a write and then took another with the same number (a failover); the revision can.
 */
export function newRevision (): string {
  return randomBytes(9).toString('base64url')
}

/** The transition, with a new revision on the document it writes, if it writes one. */
export function withNewRevision<T> (transition: (state: ProjectState) => StateChange<T>): (state: ProjectState) => StateChange<T> {
  return (state) => {
    const step = transition(state)
    return 'next' in step ? { ...step, next: { ...step.next, revision: newRevision() } } : step
  }
}

/** Whether two snapshots hold the same write: the same version and the same revision (absent in 0.2's documents). */
export function sameWrite (a: { version: number, revision: string | undefined }, b: { version: number, revision: string | undefined }): boolean {
  return a.version === b.version && a.revision === b.revision
}
