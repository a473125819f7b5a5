#!/usr/bin/env bash
# Compatibility matrix: real ZooKeeper clients (Curator + Java client, kazoo, go-zookeeper, the C
# client and cli_mt, Rust zookeeper-client) against a 3-member rzk ensemble and a 3-member Apache
# ZooKeeper 3.8 ensemble, then tests/matrix/RESULTS.md (generated).
#
#   tests/matrix/run.sh [rzk|apache|both] [--suites go,kazoo | --no-peer] [--only java,python,go,c,cli,rust]
#
# --suites: the clients' own test suites to run as well (default: go; kazoo adds ~10 min per
# implementation); --no-peer: none. Environment: RZK_BIN (use this binary instead of building
# target/debug/rzk-server), MATRIX_KEEP_DIRS=1 (keep ensemble dirs).
# Exit status: 0 unless a matrix test failed, or one of the own suites failed on rzk where it passed
# on Apache, without a line in tests/matrix/expected-failures.tsv.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
M=tests/matrix
C=.cache/matrix
mkdir -p "$C" .cache/m2
# one run at a time (runs share .cache/matrix/); the lock is held until run.py exits
exec 9>"$C/.lock"
if ! flock -n 9; then
  echo "[matrix] another matrix run holds $C/.lock; waiting for it" >&2
  flock -w 3600 9
fi
t0=$(date +%s)
say() { echo "[matrix] [$(( $(date +%s) - t0 ))s] $*"; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

# --- system packages: Apache ZooKeeper + C client + cli_mt, Maven, kazoo venv --------------------
[ -x .cache/venv/bin/python ] && [ -x /usr/share/zookeeper/bin/zkServer.sh ] || ./tests/install-deps.sh
missing=()
for pkg in libzookeeper-mt-dev zookeeper-bin maven; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt-get install ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi
for tool in go cargo gcc mvn java; do
  command -v "$tool" >/dev/null || { echo "matrix: $tool not found" >&2; exit 1; }
done

# --- kazoo's own test suite needs kazoo[test] (gevent, eventlet, pyOpenSSL, ...): own venv ---------
if [[ " $* " == *kazoo* ]]; then
  # pyOpenSSL 24.2.1: kazoo 2.11.0's harness calls X509.add_extensions, gone in later pyOpenSSL
  want="kazoo[test]==2.11.0 pytest==8.3.5 pytest-timeout==2.4.0 pyopenssl==24.2.1"
  if [ "$(cat "$C/venv-kazoo/.rzk-deps" 2>/dev/null)" != "$want" ]; then
    say "venv for kazoo's own tests"
    rm -rf "$C/venv-kazoo"
    python3 -m venv "$C/venv-kazoo"
    # shellcheck disable=SC2086
    "$C/venv-kazoo/bin/python" -m pip install -q --disable-pip-version-check $want
    echo "$want" > "$C/venv-kazoo/.rzk-deps"
  fi
fi

# --- rzk ------------------------------------------------------------------------------------------
if [ -z "${RZK_BIN:-}" ]; then
  say "cargo build -p rzk-server"
  cargo build -q -p rzk-server
  RZK_BIN=$ROOT/target/debug/rzk-server
fi
# a private copy: the work tree's target/ may be rebuilt by someone else while the matrix runs
mkdir -p "$C/bin"
cp -f "$RZK_BIN" "$C/bin/rzk-server"
export RZK_BIN=$ROOT/$C/bin/rzk-server

# --- Java: resolve online once per pom, then offline -------------------------------------------
MVN=(mvn -B -q "-Dmaven.repo.local=$ROOT/.cache/m2" "-Dmatrix.build.dir=$ROOT/$C/java-target")
pom_sum=$(sha256sum $M/java/pom.xml | cut -c1-16)
if [ "$(cat "$C/java-resolved" 2>/dev/null)" != "$pom_sum" ]; then
  say "maven: resolving dependencies and plugins into .cache/m2"
  (cd $M/java && "${MVN[@]}" test -Dtest=ResolveOnlyTest >/dev/null)
  echo "$pom_sum" > "$C/java-resolved"
fi
say "maven: test-compile (offline)"
(cd $M/java && "${MVN[@]}" -o test-compile)

# --- Go: module download once, then offline builds -----------------------------------------------
export GOMODCACHE=$ROOT/.cache/go/mod GOCACHE=$ROOT/.cache/go/build GOFLAGS=-modcacherw GOTOOLCHAIN=local
(cd $M/go && go mod download)
say "go: compiling tests (offline)"
(cd $M/go && GOPROXY=off go test -count=1 -run '^$' . github.com/go-zookeeper/zk >/dev/null)

# --- C --------------------------------------------------------------------------------------------
if [ ! -x "$C/zkmatrix" ] || [ $M/c/zkmatrix.c -nt "$C/zkmatrix" ]; then
  say "gcc zkmatrix.c"
  gcc -O1 -Wall -Wno-format-truncation -o "$C/zkmatrix" $M/c/zkmatrix.c -lzookeeper_mt -lpthread
fi

# --- Rust (standalone project, own target dir) ------------------------------------------------------
say "cargo build tests/matrix/rust"
export CARGO_TARGET_DIR=$ROOT/$C/rust-target
(cd $M/rust && { cargo build -q --locked --offline 2>/dev/null || cargo build -q --locked; })
unset CARGO_TARGET_DIR

say "builds ready; running the matrix"
exec python3 $M/run.py "$@"
