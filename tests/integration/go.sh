#!/usr/bin/env bash
# The Go binding's tests: installs the build into a temporary prefix, points
# pkg-config at it and runs `go test -race` in bindings/go with cgo's pointer
# checks on.  The tests start their own kinfer-server ($KINFER_SERVER).
# Exits 77 (skipped) in sanitizer builds, where the library cannot be loaded
# into a Go program without the sanitizer runtime, and when Go is missing.
set -euo pipefail
: "${KINFER_BUILD_DIR:?}" "${KINFER_SERVER:?}"
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

if [ -n "${KINFER_SANITIZE:-}" ]; then
  echo "skipped: sanitizer build (KINFER_SANITIZE=$KINFER_SANITIZE)"
  exit 77
fi
go=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
if ! [ -x "$go" ]; then
  echo "skipped: no Go toolchain (set GO=/path/to/go)"
  exit 77
fi

tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
if [ -z "${HOME:-}" ] && [ -z "${GOCACHE:-}" ]; then
  export GOCACHE=$tmp/gocache GOPATH=$tmp/gopath # no home for Go's caches
fi
cmake --install "$KINFER_BUILD_DIR" --prefix "$tmp/prefix" >/dev/null
libdir=$(ls -d "$tmp"/prefix/lib* | head -n1)
export PKG_CONFIG_PATH="$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# Go's build cache does not see pkg-config's answer change from run to run:
# a cached package linked with the -L of an earlier run's deleted prefix.
# CGO_CFLAGS and CGO_LDFLAGS are part of the cache key: repeating the
# prefix's paths there makes the package build afresh against this one.
export CGO_CFLAGS="${CGO_CFLAGS:--O2 -g} -I$tmp/prefix/include" CGO_LDFLAGS="-L$libdir ${CGO_LDFLAGS:-}"
export KINFER_SERVER KINFER_GO_REQUIRE_SERVER=1 GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=1
# cgocheck2 checks every pointer store for Go pointers written to C memory;
# it needs Go 1.21 or newer (older releases: GODEBUG=cgocheck=2).
export GOEXPERIMENT=cgocheck2

cd "$src/bindings/go"
"$go" version
if ! "$go" vet ./...; then
  echo "0 passed, 1 failed (go vet)"
  exit 1
fi
status=0
"$go" test -race -count=1 -v -timeout 150s ./... >"$tmp/test.log" 2>&1 || status=$?
grep -E '^(--- FAIL|FAIL|ok|panic:|WARNING: DATA RACE)' "$tmp/test.log" || true
[ "$status" -eq 0 ] || tail -n 60 "$tmp/test.log"
passed=$(grep -c -- '--- PASS' "$tmp/test.log" || true)
failed=$(grep -c -- '--- FAIL' "$tmp/test.log" || true)
skipped=$(grep -c -- '--- SKIP' "$tmp/test.log" || true)
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # a build failure, panic or timeout: no test line says so
fi
[ "$skipped" -eq 0 ] || echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ "$status" -eq 0 ]
