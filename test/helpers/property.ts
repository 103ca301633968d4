import { IN_CI } from './services.js'

/** The seed every property test uses in CI, so a CI failure replays anywhere. */
export const CI_SEED = 20261122

/**
 * fast-check settings: a fixed seed under CI=true (or the PROPERTY_SEED given), a fresh one otherwise, printed
 * either way so that any run can be replayed with PROPERTY_SEED=<seed>. fast-check adds the seed and the
 * shrunk counterexample to the error of a failing run, which tap prints.
 */
export function propertySettings (t: { comment: (message: string) => void }, numRuns: number): { seed: number, numRuns: number } {
  const given = process.env.PROPERTY_SEED
  const seed = given !== undefined && given !== '' ? Number(given) : IN_CI ? CI_SEED : Math.floor(Math.random() * 2 ** 31)
  const runs = process.env.PROPERTY_RUNS !== undefined ? Number(process.env.PROPERTY_RUNS) : numRuns
  t.comment(`fast-check: ${runs} runs, seed ${seed} (replay with PROPERTY_SEED=${seed})`)
  return { seed, numRuns: runs }
}
