#!/usr/bin/env bash
# Usage: .ci/checkout-for-node.sh NODE_BIN_DIR (as .ci/node.sh prints it)
# Prints the path of a new folder holding a copy of this checkout whose better-sqlite3 is built for that Node.
# A native module is built for one Node ABI: the checkout's own copy stays built for the machine's Node, so
# suites on several Nodes can run one after the other without rebuilding back and forth. node_modules is
# hard-linked (instant, no space), except better-sqlite3, which gets its own files before it is rebuilt.
set -euo pipefail
bin="${1:?usage: .ci/checkout-for-node.sh NODE_BIN_DIR}"
root="$(cd "$(dirname "$0")/.." && pwd)"
[ -d "$root/node_modules/better-sqlite3" ] || { echo '.ci/checkout-for-node.sh: run npm ci first' >&2; exit 1; }
node_version="$("$bin/node" -p 'process.versions.node')"
copy="$(mktemp -d "${TMPDIR:-/tmp}/fastify-anon-key-node-$node_version.XXXXXX")"

# The sources as they are (tests of uncommitted work included), without what is built or installed.
tar -C "$root" --exclude=./node_modules --exclude=./dist --exclude=./.tap --exclude=./.git -cf - . | tar -C "$copy" -xf -
cp -al "$root/node_modules" "$copy/node_modules"
rm -rf "$copy/node_modules/better-sqlite3" "$copy/node_modules/.package-lock.json"
cp -a "$root/node_modules/better-sqlite3" "$copy/node_modules/better-sqlite3"
[ ! -f "$root/node_modules/.package-lock.json" ] || cp "$root/node_modules/.package-lock.json" "$copy/node_modules/"

# Compiling SQLite takes a minute of CPU (four on a busy machine): the addon is kept in the cache folder, one
# file for each better-sqlite3 and Node version, and built only when that pair is new.
addon="$copy/node_modules/better-sqlite3/build/Release/better_sqlite3.node"
sqlite_version="$(node -p "require('$root/node_modules/better-sqlite3/package.json').version")"
cached="${XDG_CACHE_HOME:-$HOME/.cache}/fastify-anon-key/better-sqlite3-$sqlite_version-node-$node_version-$(uname -m).node"
loads () { (cd "$copy" && "$bin/node" -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()") 2>/dev/null; }
if [ -f "$cached" ] && cp "$cached" "$addon" && loads; then
  echo "better-sqlite3 $sqlite_version for Node $node_version: from the cache" >&2
else
  # With that Node first on PATH, npm runs better-sqlite3's install script under it; --nodedir points node-gyp
  # at the headers the node package ships, as nodejs.org (node-gyp's usual source) is not reachable from CI.
  (cd "$copy" && PATH="$bin:$PATH" npm rebuild better-sqlite3 --nodedir="$bin/.." >&2)
  loads || { echo ".ci/checkout-for-node.sh: better-sqlite3 does not load on Node $node_version" >&2; exit 1; }
  mkdir -p "$(dirname "$cached")" && cp "$addon" "$cached.tmp" && mv "$cached.tmp" "$cached"
fi
echo "$copy"
