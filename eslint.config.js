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
  },
  {
    // Lines over 160 characters are hard to read in review and in diffs.
    // Strings, template literals, URLs and regular expressions (the tests' expected messages) stay whole,
    // so that messages can be searched.
    rules: {
      '@stylistic/max-len': ['error', {
        code: 160,
        ignoreUrls: true,
        ignoreStrings: true,
        ignoreTemplateLiterals: true,
        ignoreRegExpLiterals: true
      }]
    }
  }
]
