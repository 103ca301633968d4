import { REFUSED_USAGE_CODES, type RefusedUsageCode, type UsageHistory } from '../../domain/usage-history.js'

/** `kind` of a row of verified requests in the SQL stores' `<table>_usage`; a refusal's kind is its code. */
const VERIFIED = 'verified'

/** A row of `<table>_usage`: verified requests of a key (kind 'verified', its name) or refused ones (kind the code, name ''). */
export interface HourRow {
  hour: number
  kind: string
  name: string
  fingerprint: string
  requests: number
}

/** A row of `<table>_usage_keys`, as written. */
export interface KeyRow {
  name: string
  fingerprint: string
  last_used_at: number
  previous_requests: number
}

/** A history's rows, in the order of the primary key (hour, kind, name, fingerprint). */
export function hourRowsOf (history: UsageHistory): HourRow[] {
  const rows: HourRow[] = [
    ...history.verified.map(({ hour, name, fingerprint, requests }) => ({ hour, kind: VERIFIED, name, fingerprint, requests })),
    ...history.refused.map(({ hour, code, fingerprint, requests }) => ({ hour, kind: code as string, name: '', fingerprint, requests }))
  ]
  return rows.sort((a, b) => a.hour - b.hour || compare(a.kind, b.kind) || compare(a.name, b.name) || compare(a.fingerprint, b.fingerprint))
}

export function keyRowsOf (history: UsageHistory): KeyRow[] {
  return history.keys
    .map(({ name, fingerprint, lastUsedAt, previousRequests }) => ({ name, fingerprint, last_used_at: lastUsedAt, previous_requests: previousRequests }))
    .sort((a, b) => compare(a.name, b.name) || compare(a.fingerprint, b.fingerprint))
}

/** Rows read back (PostgreSQL returns bigint as a string, SQLite an integer as a number) as a history. */
export function historyOf (hourRows: Array<Record<keyof HourRow, string | number>>, keyRows: Array<Record<keyof KeyRow, string | number>>): UsageHistory {
  const history: UsageHistory = { verified: [], refused: [], keys: [] }
  for (const row of hourRows) {
    const hour = Number(row.hour)
    const requests = Number(row.requests)
    const fingerprint = String(row.fingerprint)
    if (row.kind === VERIFIED) history.verified.push({ hour, name: String(row.name), fingerprint, requests })
    else if (REFUSED_USAGE_CODES.includes(row.kind as RefusedUsageCode)) {
      history.refused.push({ hour, code: row.kind as RefusedUsageCode, fingerprint, requests })
    }
  }
  for (const row of keyRows) {
    const lastUsedAt = Number(row.last_used_at)
    history.keys.push({ name: String(row.name), fingerprint: String(row.fingerprint), lastUsedAt, previousRequests: Number(row.previous_requests) })
  }
  return history
}

function compare (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
