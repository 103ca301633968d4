import { join } from 'node:path'

// A CommonJS module in both builds, so that __dirname names the folder of the compiled page plugin: the
// build copies the page's files there.
export const ASSETS_DIR = join(__dirname, 'assets')
