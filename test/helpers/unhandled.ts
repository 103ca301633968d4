import type { Test } from 'tap'

/** Collects every unhandled rejection while the test runs; the test then checks the list is empty. */
export function watchUnhandled (t: Test): unknown[] {
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => { process.off('unhandledRejection', onUnhandled) })
  return unhandled
}
