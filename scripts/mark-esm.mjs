// dist/esm holds ES modules while the package itself is CommonJS: say so to Node for that folder only.
import { writeFileSync } from 'node:fs'
writeFileSync(new URL('../dist/esm/package.json', import.meta.url), JSON.stringify({ type: 'module' }) + '\n')
