#!/usr/bin/env bash
# Packs the package and uses the tarball from a fresh project, as a user would: ESM import, CommonJS require,
# a TypeScript type check against the shipped declarations, the CLI through npx, the links of the docs, and every
# code block of README.md and docs/ (run, type-checked or parsed).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$root"
tarball="$(npm pack --silent --pack-destination "$work" | tail -n 1)"
cd "$work"
# The tarball ships no source maps: they would point at lib/*.ts, which it does not ship.
if tar -tzf "$tarball" | grep -q '\.map$'; then echo "package check: the tarball ships source maps" >&2; exit 1; fi
npm init -y >/dev/null
# A package at the version this repository tests with.
pinned () { echo "$1@$(node -p "require('$root/node_modules/$1/package.json').version")"; }
npm install --no-audit --no-fund --silent "$work/$tarball" "$(pinned fastify)" "$(pinned typescript)" "$(pinned @types/node)"
cp "$root"/scripts/package-check/* .
cp consumer.ts consumer-esm.mts   # the same code, type-checked as an ES module too
node esm.mjs
node cjs.cjs
node hostile.mjs
node quick-start.mjs "$root/README.md"
node doc-links.mjs
cp server.mjs quick-start.mts                  # the Quick start as written, in strict TypeScript
npx tsc --module nodenext --moduleResolution nodenext --target es2022 --strict --noEmit --types node quick-start.mts
npx tsc -p tsconfig.json                       # consumer.ts, a CommonJS TypeScript module
npx tsc --module nodenext --moduleResolution nodenext --target es2022 --strict --noEmit --types node consumer-esm.mts   # the same code as an ES module

# The CLI, as npx runs the installed bin: help, a wrong command (exit 2), a token, and stores whose driver the
# project did not install (exit 2, naming the package to install; where Node has node:sqlite, sqlite: uses it).
npx --no-install fastify-anon-key --help > cli-help.txt
grep -q '^Usage: fastify-anon-key <command>' cli-help.txt
expect_exit () {
  local want="$1" pattern="$2"; shift 2
  local code=0 output
  output="$("$@" 2>&1)" || code=$?
  if [ "$code" != "$want" ] || ! grep -q -- "$pattern" <<<"$output"; then
    echo "package check: '$*' exited $code (want $want) and printed: $output" >&2
    exit 1
  fi
}
expect_exit 2 'Unknown command "bogus"' npx --no-install fastify-anon-key bogus
expect_exit 2 'npm install ioredis' npx --no-install fastify-anon-key get --store redis://127.0.0.1:6379
touch keys.db
if node -e "require('node:sqlite')" 2>/dev/null; then
  expect_exit 0 'No anon key yet in namespace "default" of sqlite:keys.db' npx --no-install fastify-anon-key keys --store sqlite:keys.db
else
  expect_exit 2 'npm install better-sqlite3' npx --no-install fastify-anon-key keys --store sqlite:keys.db
fi
# A password that makes the URL unreadable is masked, also when it comes from DATABASE_URL (alone: CI sets
# REDIS_URL too, and two store variables are refused before either is parsed).
expect_exit 2 'got "postgres://u:\*\*\*@db/app"' env -u REDIS_URL DATABASE_URL='postgres://u:Sup/3rS3cret@db/app' npx --no-install fastify-anon-key get
if env -u REDIS_URL DATABASE_URL='postgres://u:Sup/3rS3cret@db/app' npx --no-install fastify-anon-key get --json 2>&1 | grep -q 3rS3cret; then
  echo "package check: the CLI printed a password" >&2; exit 1
fi
JWT_SECRET=package-check-secret npx --no-install fastify-anon-key token --json \
  | node -e 'const { token } = JSON.parse(require("fs").readFileSync(0, "utf8")); if (token.split(".").length !== 3) process.exit(1)'

# The code blocks of the docs, with the packages they import (after the CLI checks, which need ioredis absent).
npm install --no-audit --no-fund --silent "$(pinned @fastify/cors)" "$(pinned @fastify/swagger)" "$(pinned @fastify/swagger-ui)" \
  "$(pinned @fastify/auth)" "$(pinned @fastify/rate-limit)" "$(pinned ioredis)" "$(pinned @types/pg)" "$(pinned @types/better-sqlite3)"
node doc-blocks.mjs "$root"
echo "package check: ESM, CommonJS and TypeScript consumers, the CLI and the docs' code blocks all passed"
