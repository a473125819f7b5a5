#!/usr/bin/env bash
# Builds rzk-server of an earlier release (a line of tests/upgrade/releases) once, cached:
#   tests/upgrade/build-release.sh v0.1.0     -> prints the binary's path
# The source comes from `git archive <commit>` of this repository (a clean clone has the whole
# history); the build uses its own target dir under the cache. Cache: $RZK_UPGRADE_CACHE
# (default $HOME/.cache/rzk-upgrade), one folder per commit.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=${1:?usage: build-release.sh VERSION}
commit=$(awk -v v="$version" '$1 == v { print $2 }' tests/upgrade/releases)
[ -n "$commit" ] || { echo "release $version is not listed in tests/upgrade/releases" >&2; exit 2; }
cache=${RZK_UPGRADE_CACHE:-$HOME/.cache/rzk-upgrade}/$commit
bin=$cache/rzk-server
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
if ! git cat-file -e "$commit^{commit}" 2>/dev/null; then
  echo "commit $commit of $version is not in this clone (shallow?): git fetch --unshallow" >&2
  exit 2
fi
mkdir -p "$cache"
rm -rf "$cache/src"
mkdir "$cache/src"
git archive "$commit" | tar -x -C "$cache/src"
echo "building rzk-server $version ($commit) in $cache (once)" >&2
( cd "$cache/src" && CARGO_TARGET_DIR="$cache/target" cargo build -q --locked -p rzk-server >&2 )
cp "$cache/target/debug/rzk-server" "$bin.tmp"
mv "$bin.tmp" "$bin"
rm -rf "$cache/src" "$cache/target"
echo "$bin"
