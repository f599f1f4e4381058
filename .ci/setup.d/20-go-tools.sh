#!/usr/bin/env bash
# Builds the chart tools from the Go module proxy, pinned by the modules under tools/ (go.mod +
# go.sum, plus the module's own Go files for istio-xds):
#   helm3          helm.sh/helm/v3         (tools/helm3)
#   helm-unittest  helm-unittest           (tools/helm3; embeds Helm 3's libraries)
#   helm4          helm.sh/helm/v4         (tools/helm4)
#   helm-docs      norwoodj/helm-docs      (tools/helm-docs)
#   istio-xds      istio.io/istio's xDS generation, offline (tools/istio-xds)
#
# Builds are slow on a fresh machine (Istio alone takes minutes and a few GB of Go caches), so
# each binary is cached outside the checkout, by content: $AAP_GO_TOOLS_CACHE (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/aap-extproc/go-tools)/<name>-<key>/<name>, where the key hashes
# the module's go.mod, go.sum and Go files, the Go version, the package and the link flags. A
# changed go.sum therefore rebuilds; an unchanged one, in any clone, only re-links
# .tools/bin/<name> to the cached binary. Go's own module and build caches (GOMODCACHE, GOCACHE)
# already live outside the checkout too.
#
# A `helm` already on PATH whose version is the pinned Helm 3 or Helm 4 release is linked instead
# of built.
#
# AAP_GO_TOOLS_FORCE=1 rebuilds everything (replacing the cached binaries); AAP_GO_TOOLS_BIN
# links somewhere other than .tools/bin; AAP_GO_TOOLS_CACHE moves the cache (for example to time
# a build from scratch). Builds run under `nice` so they do not starve a shared machine.
# A cached version unused for 30 days is removed; `rm -rf` of the cache reclaims all the space (the
# next setup rebuilds).
set -euo pipefail
source "$(dirname "$0")/../env.sh"
cd "$AAP_ROOT"

if ! command -v go >/dev/null; then
  echo "setup: Go is not on PATH; the chart tools need Go 1.26 or later (tools/*/go.mod)" >&2
  exit 1
fi
bin="${AAP_GO_TOOLS_BIN:-$AAP_ROOT/.tools/bin}"
cache="${AAP_GO_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aap-extproc/go-tools}"
mkdir -p "$bin" "$cache"
export GOFLAGS="-mod=readonly -buildvcs=false -trimpath"
export CGO_ENABLED=0
go_version=$(go env GOVERSION)

# Prints the version a module pins for a dependency, e.g. `pinned tools/helm3 helm.sh/helm/v3`.
pinned() { (cd "$1" && go list -m -f '{{.Version}}' "$2"); }

# Prints the cache key of a build: what can change the binary, hashed.
cache_key() {
  local dir=$1
  shift
  {
    (cd "$dir" && sha256sum go.mod go.sum $(find . -maxdepth 1 -name '*.go' | sort))
    printf '%s\n' "$go_version" "$GOFLAGS" "$@"
  } | sha256sum | cut -c1-16
}

# build <module dir> <output name> <package> [ldflags...]
build() {
  local dir=$1 name=$2 pkg=$3
  shift 3
  local entry
  entry="$cache/$name-$(cache_key "$dir" "$pkg" "$@")"
  if [ -n "${AAP_GO_TOOLS_FORCE:-}" ] || [ ! -x "$entry/$name" ]; then
    echo "setup: building $name from $pkg ($dir) into $entry" >&2
    local start=$SECONDS tmp
    tmp=$(mktemp -d "$cache/.$name.XXXXXX")
    (cd "$dir" && nice -n 19 go build -ldflags "-s -w $*" -o "$tmp/$name" "$pkg")
    # A concurrent setup (another clone) may have finished the same entry: either copy is good.
    rm -rf "$entry"
    mv -T "$tmp" "$entry" 2>/dev/null || rm -rf "$tmp"
    echo "setup: built $name in $((SECONDS - start))s ($(du -sh "$entry" | cut -f1))" >&2
  else
    echo "setup: $name is cached ($entry)" >&2
  fi
  ln -sfn "$entry/$name" "$bin/$name"
  # Entries record their last use; other versions of the tool unused for 30 days are dropped.
  touch "$entry"
  find "$cache" -mindepth 1 -maxdepth 1 -type d -name "$name-*" ! -path "$entry" -mtime +30 \
    -exec rm -rf {} +
}

# An existing `helm` on PATH (outside .tools/bin) of exactly the pinned version is used instead of
# a build: `use_existing_helm helm3 v3.22.0` links .tools/bin/helm3 to it and returns 0.
use_existing_helm() {
  local name=$1 version=$2 found
  found=$(PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$bin" | paste -sd: -) command -v helm) ||
    return 1
  [ "$("$found" version --template '{{.Version}}' 2>/dev/null)" = "$version" ] || return 1
  echo "setup: using $found for $name (already $version)" >&2
  ln -sfn "$found" "$bin/$name"
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
[ -z "${AAP_GO_TOOLS_FORCE:-}" ] && use_existing_helm helm3 "$helm3_ver" ||
  build tools/helm3 helm3 helm.sh/helm/v3/cmd/helm "${helm3_flags[@]}"
build tools/helm3 helm-unittest github.com/helm-unittest/helm-unittest/cmd/helm-unittest \
  "${helm3_flags[@]:1}"

# Helm 4 reads the client-go version from its build info at run time; only the version is stamped.
helm4_ver=$(pinned tools/helm4 helm.sh/helm/v4)
[ -z "${AAP_GO_TOOLS_FORCE:-}" ] && use_existing_helm helm4 "$helm4_ver" ||
  build tools/helm4 helm4 helm.sh/helm/v4/cmd/helm "-X helm.sh/helm/v4/internal/version.version=$helm4_ver"

docs_ver=$(pinned tools/helm-docs github.com/norwoodj/helm-docs)
build tools/helm-docs helm-docs github.com/norwoodj/helm-docs/cmd/helm-docs "-X main.version=$docs_ver"

# Istio is pinned by pseudo-version (the proxy serves no release tags); its VERSION file names
# the release line (e.g. 1.31), which istio-xds reports and uses as the default proxy version.
istio_dir=$(cd tools/istio-xds && go mod download -json istio.io/istio | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
istio_line=$(cat "$istio_dir/VERSION")
build tools/istio-xds istio-xds . "-X main.istioLine=$istio_line"
