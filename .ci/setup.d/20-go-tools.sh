#!/usr/bin/env bash
# Builds the chart tools from the Go module proxy into .tools/bin, pinned by the modules under
# tools/ (go.mod + go.sum):
#   helm3          helm.sh/helm/v3         (tools/helm3)
#   helm-unittest  helm-unittest           (tools/helm3; embeds Helm 3's libraries)
#   helm4          helm.sh/helm/v4         (tools/helm4)
#   helm-docs      norwoodj/helm-docs      (tools/helm-docs)
# Idempotent: a tool is rebuilt only when its module's go.sum changed since the last build (a stamp
# file next to the binary records the go.sum hash). Set AAP_GO_TOOLS_FORCE=1 to rebuild everything,
# AAP_GO_TOOLS_BIN to build somewhere else (for example to time a build from scratch).
set -euo pipefail
source "$(dirname "$0")/../env.sh"
cd "$AAP_ROOT"

if ! command -v go >/dev/null; then
  echo "setup: Go is not on PATH; the chart tools need Go 1.26 or later (tools/*/go.mod)" >&2
  exit 1
fi
bin="${AAP_GO_TOOLS_BIN:-$AAP_ROOT/.tools/bin}"
mkdir -p "$bin"
export GOFLAGS="-mod=readonly -buildvcs=false -trimpath"
export CGO_ENABLED=0

# Prints the version a module pins for a dependency, e.g. `pinned tools/helm3 helm.sh/helm/v3`.
pinned() { (cd "$1" && go list -m -f '{{.Version}}' "$2"); }

# build <module dir> <output name> <package> [ldflags...]
build() {
  local dir=$1 name=$2 pkg=$3
  shift 3
  local stamp="$bin/.$name.stamp" want
  want="$(sha256sum "$dir/go.mod" "$dir/go.sum" | sha256sum | cut -d' ' -f1)"
  if [ -z "${AAP_GO_TOOLS_FORCE:-}" ] && [ -x "$bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    echo "setup: $name is up to date" >&2
    return
  fi
  echo "setup: building $name from $pkg ($dir)" >&2
  local start=$SECONDS
  (cd "$dir" && go build -ldflags "-s -w $*" -o "$bin/$name" "$pkg")
  echo "$want" >"$stamp"
  echo "setup: built $name in $((SECONDS - start))s" >&2
}

# Helm 3 reports the Kubernetes version it was built against (used by kubeVersion checks) only
# through ldflags, like its Makefile does: client-go v0.X.Y means Kubernetes 1.X.
helm3_ver=$(pinned tools/helm3 helm.sh/helm/v3)
k8s_minor=$(pinned tools/helm3 k8s.io/client-go | cut -d. -f2)
helm3_flags=(
  "-X helm.sh/helm/v3/internal/version.version=$helm3_ver"
  "-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1"
  "-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor"
  "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1"
  "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor"
)
build tools/helm3 helm3 helm.sh/helm/v3/cmd/helm "${helm3_flags[@]}"
build tools/helm3 helm-unittest github.com/helm-unittest/helm-unittest/cmd/helm-unittest \
  "${helm3_flags[@]:1}"

# Helm 4 reads the client-go version from its build info at run time; only the version is stamped.
helm4_ver=$(pinned tools/helm4 helm.sh/helm/v4)
build tools/helm4 helm4 helm.sh/helm/v4/cmd/helm "-X helm.sh/helm/v4/internal/version.version=$helm4_ver"

docs_ver=$(pinned tools/helm-docs github.com/norwoodj/helm-docs)
build tools/helm-docs helm-docs github.com/norwoodj/helm-docs/cmd/helm-docs "-X main.version=$docs_ver"
