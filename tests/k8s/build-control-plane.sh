#!/usr/bin/env bash
# Builds a real Kubernetes control plane from Go modules, once, cached under .cache/k8s/bin:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  (k8s.io/kubernetes via a wrapper go.mod)
#   etcd                                                              (wrapper main around etcdmain)
#   helm                                                              (go install helm.sh/helm/v3/cmd/helm)
# The Go module and build caches live under .cache/k8s/go so a cold build is self-contained.
# Prints the build time and disk use at the end. Re-running with everything built is a no-op.
# Measured here (2 shared cores, cold caches): ~13 min, 5.4 GB (.cache/k8s/bin 401 MB, Go module
# cache 1.3 GB, Go build cache 3.6 GB). K8S_CLEAN_GO_CACHE=1 deletes the Go caches afterwards.
# RZK_K8S_CACHE=DIR puts everything in DIR instead of .cache/k8s (e.g. outside a fresh CI clone).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
. "$ROOT/tests/k8s/versions.sh"
CACHE="${RZK_K8S_CACHE:-$ROOT/.cache/k8s}"
BIN="$CACHE/bin"
WORK="$CACHE/build"
export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" GOPATH="$CACHE/go/path"
export GOTOOLCHAIN=local GOFLAGS="-buildvcs=false" CGO_ENABLED=0
STAGING_VERSION="v0.${K8S_VERSION#1.}"
STAMP="k8s=$K8S_VERSION etcd=$ETCD_VERSION helm=$HELM_VERSION go=$(go env GOVERSION)"
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd helm)

# need BINARY: true when BINARY is missing or was built from other versions (per-binary stamps).
need() { ! { [ -x "$BIN/$1" ] && [ "$(cat "$BIN/.$1.stamp" 2>/dev/null)" = "$STAMP" ]; }; }
built() { echo "$STAMP" > "$BIN/.$1.stamp"; }
todo=0; for b in "${BINARIES[@]}"; do need "$b" && todo=1; done
if [ $todo = 0 ]; then echo "control plane already built: $STAMP ($BIN)"; exit 0; fi

mkdir -p "$BIN" "$WORK"
start=$(date +%s)
t() { echo "[build-control-plane $(( $(date +%s) - start ))s] $*"; }

# --- Kubernetes: wrapper module requiring k8s.io/kubernetes, each staging module replaced by its published version.
K="$WORK/kubernetes"
mkdir -p "$K"
if [ ! -f "$K/go.sum" ] || ! grep -q "k8s.io/kubernetes v$K8S_VERSION " "$K/go.sum"; then
  t "resolving k8s.io/kubernetes v$K8S_VERSION"
  gomod=$(cd "$K" && go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  staging=$(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => \./staging/.*#\1#p' "$gomod")
  {
    echo "module rzk.test/k8s-control-plane"
    echo
    echo "go $(sed -n 's/^go //p' "$gomod")"
    echo
    echo "require k8s.io/kubernetes v$K8S_VERSION"
    echo
    echo "replace ("
    for m in $staging; do echo "	$m => $m $STAGING_VERSION"; done
    echo ")"
  } > "$K/go.mod"
  rm -f "$K/go.sum"
  (cd "$K" && go get "k8s.io/kubernetes/cmd/kube-apiserver@v$K8S_VERSION" \
      "k8s.io/kubernetes/cmd/kube-controller-manager@v$K8S_VERSION" \
      "k8s.io/kubernetes/cmd/kube-scheduler@v$K8S_VERSION" \
      "k8s.io/kubernetes/cmd/kubectl@v$K8S_VERSION")
fi
minor=${K8S_VERSION#1.}; minor=${minor%%.*}
LDF="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LDF="$LDF -X $pkg.gitVersion=v$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  need "$c" || continue
  t "building $c"
  (cd "$K" && nice -n 5 go build -trimpath -ldflags "$LDF" -o "$BIN/$c" "k8s.io/kubernetes/cmd/$c")
  built "$c"
done

# --- etcd: a wrapper main around go.etcd.io/etcd/server/v3/etcdmain (etcd's own module has replace lines).
E="$WORK/etcd"
mkdir -p "$E"
cat > "$E/main.go" <<'GO'
// Wrapper main: the etcd server built from the published go.etcd.io/etcd/server/v3 module.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
if [ ! -f "$E/go.mod" ] || ! grep -q "v$ETCD_VERSION" "$E/go.mod"; then
  t "resolving etcd v$ETCD_VERSION"
  rm -f "$E/go.mod" "$E/go.sum"
  (cd "$E" && go mod init rzk.test/etcd >/dev/null 2>&1 && go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" && go mod tidy)
fi
if need etcd; then
  t "building etcd"
  (cd "$E" && nice -n 5 go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" .)
  built etcd
fi

# --- helm: installs as is; the -X flags are the ones helm's Makefile sets (its version, and the
# Kubernetes version `helm template`/`helm lint` assume, taken from helm's own client-go).
if need helm; then
  t "building helm v$HELM_VERSION"
  hmod=$(cd "$E" && go mod download -json "helm.sh/helm/v3@v$HELM_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  kminor=$(sed -n 's#^[[:space:]]*k8s.io/client-go v0\.\([0-9]*\)\..*#\1#p' "$hmod" | head -1)
  HLDF="-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    HLDF="$HLDF -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$kminor"
  done
  GOBIN="$BIN" nice -n 5 go install -trimpath -ldflags "$HLDF" "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
  built helm
fi
t "done"
echo "build time: $(( $(date +%s) - start ))s"
if [ "${K8S_CLEAN_GO_CACHE:-0}" = 1 ]; then  # keep only the binaries (saves ~5 GB)
  go clean -cache; go clean -modcache; rm -rf "$WORK"
fi
echo "disk use: bin $(du -sh "$BIN" | cut -f1), go module cache $(du -sh "$GOMODCACHE" | cut -f1), go build cache $(du -sh "$GOCACHE" | cut -f1), total $(du -sh "$CACHE" | cut -f1)"
