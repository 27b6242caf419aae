#!/usr/bin/env bash
# Runs Helm, pinned, from the Go module proxy (helm is a Go module; nothing to install).
# The first run builds it (about a minute); later runs reuse Go's build cache.
set -euo pipefail
exec "${GO:-go}" run helm.sh/helm/v3/cmd/helm@v3.22.0 "$@"
