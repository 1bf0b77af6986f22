#!/usr/bin/env bash
# Makes the pinned kustomize available at .cache/bin/kustomize (the k8s manifest tests build every
# overlay with it). Built from the Go module proxy on first use, then cached; prints the binary's path.
# Fails loudly when it cannot be obtained: the manifest tests are mandatory, never skipped.
#   KUSTOMIZE_VERSION  the version to install (default below; keep docs/notes/k8s.md in step)
set -euo pipefail
cd "$(dirname "$0")/.."

version="${KUSTOMIZE_VERSION:-v5.8.1}"
bin_dir="$PWD/.cache/bin"
bin="$bin_dir/kustomize"

installed_version() {
  # `kustomize version` prints "v5.8.1" (a bare version) for go-installed builds.
  "$bin" version 2>/dev/null | grep -oE 'v[0-9]+\.[0-9]+\.[0-9]+' | head -n1 || true
}

if [ -x "$bin" ] && [ "$(installed_version)" = "$version" ]; then
  echo "$bin"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "ensure-kustomize: Go is not installed; install Go 1.22+ (or put kustomize $version at $bin) and retry" >&2
  exit 1
fi

echo "ensure-kustomize: installing sigs.k8s.io/kustomize/kustomize/v5@$version into $bin_dir (one-time, takes a minute or two)" >&2
mkdir -p "$bin_dir"
if ! GOBIN="$bin_dir" GOFLAGS="${GOFLAGS:-} -buildvcs=false" CGO_ENABLED=0 go install "sigs.k8s.io/kustomize/kustomize/v5@$version" >&2; then
  echo "ensure-kustomize: 'go install sigs.k8s.io/kustomize/kustomize/v5@$version' failed (see the error above; GOPROXY=$(go env GOPROXY), $(go version))" >&2
  exit 1
fi
got="$(installed_version)"
if [ "$got" != "$version" ]; then
  echo "ensure-kustomize: installed kustomize reports version '${got:-unknown}', expected $version" >&2
  exit 1
fi
echo "$bin"
