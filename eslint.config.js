'use strict'

module.exports = [
  ...require('neostandard')({
    ts: true,
    ignores: ['dist/**', '.tap/**', 'node_modules/**']
  }),
  {
    // The admin page's script runs in the browser, as written.
    files: ['lib/admin-page/assets/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: { document: 'readonly', sessionStorage: 'readonly', fetch: 'readonly', navigator: 'readonly', CSS: 'readonly', HTMLElement: 'readonly' }
    }
  }
]
