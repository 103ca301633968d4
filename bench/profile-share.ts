import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { shares, type Profile } from './profile.js'

/**
 * `npx tsx bench/profile-share.ts [.profiles]`: after `npm run bench -- --only http --profile`, reads each
 * server's CPU profile and prints where its busy time went: the share spent inside an auth hook (inclusive
 * of what it calls) and inside Fastify's hook runner around it. That share bounds what the hook can cost in
 * throughput, measured on the server itself, whatever else the machine was doing.
 */

const directory = process.argv[2] ?? '.profiles'
for (const file of readdirSync(directory).filter((name) => name.endsWith('.cpuprofile')).sort()) {
  const profile = JSON.parse(readFileSync(join(directory, file), 'utf8')) as Profile
  const { busy, watched } = shares(profile)
  const found = Object.entries(watched).filter(([, time]) => time > 0)
  if (busy === 0 || watched.writev === 0) continue // not a server's main thread
  console.log(`${file}: busy ${(busy / 1e6).toFixed(1)} s`)
  for (const [name, time] of found) console.log(`  ${(100 * time / busy).toFixed(2).padStart(6)} %  ${name}`)
}
