/**
 * Where a server's CPU time went, from a V8 CPU profile: the share of busy (non-idle) time spent inside each
 * watched function, inclusive of what it calls. Used on the servers' profiles by http.ts and profile-share.ts.
 */

export interface ProfileNode { id: number, callFrame: { functionName: string, url: string }, children?: number[] }
export interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

/** The functions whose inclusive share is reported, by a short name. */
export const WATCHED: Record<string, (frame: ProfileNode['callFrame']) => boolean> = {
  verifyAnonKey: (frame) => frame.functionName === 'verifyAnonKey',
  verifyBearerAuth: (frame) => frame.functionName === 'verifyBearerAuth',
  /** The control: one Set lookup of the header (see floorApp). */
  floorHook: (frame) => frame.functionName === 'floorHook',
  /** Fastify's runner of onRequest hooks: the hook itself plus the cost of having a hook at all. */
  hookRunner: (frame) => frame.functionName === 'hookRunner' && frame.url.includes('fastify/lib/hooks'),
  /** The socket writes of the responses. */
  writev: (frame) => frame.functionName === 'writev'
}

export type Shares = { busy: number, watched: Record<string, number> }

/** Busy time (µs) and the time inside each watched function (µs, inclusive). */
export function shares (profile: Profile): Shares {
  const self = new Map<number, number>()
  profile.samples.forEach((id, index) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)))
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  let busy = 0
  const watched: Record<string, number> = Object.fromEntries(Object.keys(WATCHED).map((name) => [name, 0]))
  for (const node of profile.nodes) {
    const time = self.get(node.id) ?? 0
    if (node.callFrame.functionName === '(idle)') continue
    busy += time
    const counted = new Set<string>()
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const frame = (byId.get(id) as ProfileNode).callFrame
      for (const [name, matches] of Object.entries(WATCHED)) {
        if (!counted.has(name) && matches(frame)) {
          counted.add(name)
          watched[name] += time
        }
      }
    }
  }
  return { busy, watched }
}
