import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'
import type { Test } from 'tap'
import { IN_CI } from './services.js'

/** Debian's Chromium, which .ci/run installs; CHROMIUM_PATH names another. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

// Without the background-networking flags Chromium tries hosts this closed network refuses, many at a time.
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync']

/**
 * Whether the browser tests can run. Without Chromium they fail under CI=true and are skipped, visibly,
 * on a development machine.
 */
export function chromiumOrSkip (t: Test): boolean {
  if (existsSync(CHROMIUM)) return true
  if (IN_CI) t.fail(`Chromium is not at ${CHROMIUM}: .ci/run installs it (apt-get install chromium)`)
  else t.comment(`skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`)
  return false
}

/** Headless Chromium with a fresh profile of its own (Playwright makes one per launch), closed when `t` ends. */
export function useChromium (t: Test): () => Browser {
  let browser: Browser | undefined
  t.before(async () => { browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS }) })
  t.teardown(() => browser?.close())
  return () => browser as Browser
}
