#!/usr/bin/env bash
# Packs the package and uses the tarball from a fresh project, as a user would: ESM import, CommonJS require,
# and a TypeScript type check against the shipped declarations.
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
npm install --no-audit --no-fund --silent "$work/$tarball" "fastify@$(node -p "require('$root/node_modules/fastify/package.json').version")" \
  "typescript@$(node -p "require('$root/node_modules/typescript/package.json').version")" \
  "@types/node@$(node -p "require('$root/node_modules/@types/node/package.json').version")"
cp "$root"/scripts/package-check/* .
cp consumer.ts consumer-esm.mts   # the same code, type-checked as an ES module too
node esm.mjs
node cjs.cjs
node hostile.mjs
npx tsc -p tsconfig.json                       # consumer.ts, a CommonJS TypeScript module
npx tsc --module nodenext --moduleResolution nodenext --target es2022 --strict --noEmit --types node consumer-esm.mts   # the same code as an ES module
echo "package check: ESM, CommonJS and TypeScript consumers all passed"
