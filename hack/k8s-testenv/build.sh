#!/usr/bin/env bash
# Builds the control plane the Kubernetes tests run against: kube-apiserver and
# kube-scheduler (from k8s.io/kubernetes), etcd and etcdctl (from go.etcd.io/etcd), and kwok,
# plus kwok's stage config taken from kwok's own module. Everything comes from the Go module
# proxy; nothing is downloaded from anywhere else.
#
# Output: $GANTRY_K8S_CACHE/<versions>/bin (default cache ${XDG_CACHE_HOME:-$HOME/.cache}/gantry-k8s)
#   kube-apiserver kube-scheduler etcd etcdctl kwok kwok-stages.yaml .stamp
# The stamp records a hash of the inputs (this script and the scratch modules), so a warm run
# is a no-op. Prints the bin directory on stdout; progress goes to stderr.
#
# Cold build: about 7.5 minutes on 2 idle cores (kube-apiserver is most of it); about 35 s when
# the Go build cache is warm; 0 s when the stamp matches.
set -euo pipefail

KUBE_VERSION=v1.34.4
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${GANTRY_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gantry-k8s}
key="kube-${KUBE_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}"
dest="$cache/$key"
bin="$dest/bin"
GO=${GO:-go}

inputs_hash() {
	cat "$here/build.sh" "$here/kube/go.mod" "$here/kube/go.sum" "$here/kube/tools.go" \
		"$here/etcd/go.mod" "$here/etcd/go.sum" "$here/etcd/tools.go" | sha256sum | cut -d' ' -f1
}
want=$(inputs_hash)

if [ -f "$bin/.stamp" ] && [ "$(cat "$bin/.stamp")" = "$want" ]; then
	echo "$bin"
	exit 0
fi

mkdir -p "$dest"
# Two builds at once (two checkouts, or make -j) would race on the output: take turns.
exec 9>"$dest/.lock"
flock 9
if [ -f "$bin/.stamp" ] && [ "$(cat "$bin/.stamp")" = "$want" ]; then
	echo "$bin"
	exit 0
fi

tmp=$(mktemp -d "$dest/build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
export CGO_ENABLED=0

minor=${KUBE_VERSION#v1.}
minor=${minor%%.*}
ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
	ldflags+=" -X $pkg.gitTreeState=clean"
done

echo "k8s-testenv: building kube-apiserver and kube-scheduler $KUBE_VERSION" >&2
(cd "$here/kube" && $GO build -mod=readonly -ldflags "$ldflags" -o "$tmp/" \
	k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-scheduler)

echo "k8s-testenv: building etcd and etcdctl $ETCD_VERSION" >&2
(cd "$here/etcd" && $GO build -mod=readonly -o "$tmp/etcd" go.etcd.io/etcd/server/v3 &&
	$GO build -mod=readonly -o "$tmp/etcdctl" go.etcd.io/etcd/etcdctl/v3)

echo "k8s-testenv: installing kwok $KWOK_VERSION" >&2
GOBIN="$tmp" $GO install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"

# kwok ships no built-in stages: take the "fast" node and pod stages from its own module, so
# the stages always match the kwok binary.
kwokdir=$(cd "$tmp" && GOFLAGS=-mod=mod $GO mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [ -z "$kwokdir" ] || [ ! -d "$kwokdir/kustomize/stage" ]; then
	echo "k8s-testenv: cannot find kwok's module directory (got '$kwokdir')" >&2
	exit 1
fi
stages="$tmp/kwok-stages.yaml"
: >"$stages"
for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
	pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
	{
		echo "---"
		echo "# from sigs.k8s.io/kwok@$KWOK_VERSION kustomize/stage/$f"
		cat "$kwokdir/kustomize/stage/$f"
	} >>"$stages"
done

"$tmp/kube-apiserver" --version >&2
"$tmp/etcd" --version | head -1 >&2
echo "$want" >"$tmp/.stamp"
rm -rf "$bin"
mv "$tmp" "$bin"
trap - EXIT
echo "k8s-testenv: built in $(($(date +%s) - start)) s" >&2
echo "$bin"
