// The admin page's HTML, script and style sheet are served as they are written: copy them beside each build
// of the page plugin, which reads them from its own folder.
import { cpSync } from 'node:fs'
for (const build of ['cjs', 'esm']) {
  cpSync(new URL('../lib/admin-page/assets/', import.meta.url), new URL(`../dist/${build}/admin-page/assets/`, import.meta.url), { recursive: true })
}
