import { COMMANDS } from './commands.js'
import { STORE_SCHEMES } from './open-store.js'

/** Two columns: what to type, what it does. */
function rows (entries: Array<[string, string]>): string {
  const width = Math.max(...entries.map(([left]) => left.length)) + 2
  return entries.map(([left, right]) => `  ${left.padEnd(width)}${right}`).join('\n')
}

/** The text of --help, built from the command table so that a new command shows up by itself. */
export function helpText (): string {
  // A flag that several commands take is one row, naming them all.
  const byUsage = new Map<string, { commands: string[], help: string }>()
  for (const command of COMMANDS) {
    for (const flag of Object.values(command.flags)) {
      const row = byUsage.get(`${flag.usage}\0${flag.help}`) ?? { commands: [], help: flag.help }
      row.commands.push(command.name)
      byUsage.set(`${flag.usage}\0${flag.help}`, row)
    }
  }
  const flags = [...byUsage].map(([key, { commands, help }]): [string, string] => [key.split('\0')[0], `${commands.join(', ')}: ${help}`])
  return `Usage: fastify-anon-key <command> [options]

Works on the anon key directly in the store your app uses, for scripts and for when the admin API is
unreachable. Running instances see each change through the store's notification.

Commands:
${rows(COMMANDS.map((command) => [command.usage, command.summary]))}

Options:
${rows([
    ['--store URL', `The store: ${STORE_SCHEMES.join(', ')}. Default: DATABASE_URL or REDIS_URL.`],
    ['--namespace NAME', 'The namespace your app gives its store. Default: default.'],
    ['--tenant ID', 'The tenant whose keys to act on, for an app with tenant(request). Default: the app\'s one project.'],
    ...flags,
    ['--json', 'Print one JSON document; errors go to stderr as JSON too.'],
    ['--help, -h', 'Print this help.']
  ])}

Exit codes: 0 done; 1 nothing to act on (no key yet, no previous key with that fingerprint); 2 a wrong
command line; 3 the store is down or did not answer in time.
`
}
