#!/usr/bin/env bash
# Installs the Debian packages kinfer needs to build, test and demo.
# Does nothing when they are all present already.
set -euo pipefail

pkgs=(build-essential cmake pkg-config libnghttp2-dev libssl-dev libjson-c-dev
      check nghttp2-client curl openssl python3 clang libclang-rt-14-dev)
test_deps=false
if [ "${1:-}" = "--test" ]; then
  test_deps=true
  pkgs+=(valgrind locales nghttp2-server nghttp2-proxy nginx-light)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The parity tests run KServe's own Python model server.
if $test_deps && ! python3 -c 'import kserve' 2>/dev/null; then
  echo "installing the kserve Python package" >&2
  python3 -m pip install --quiet --disable-pip-version-check "kserve==0.21.0"
fi

# The tests check that number text ignores a comma-decimal process locale.
if $test_deps && ! locale -a 2>/dev/null | grep -qix 'de_DE.utf-\?8'; then
  echo "generating locale de_DE.UTF-8" >&2
  $SUDO localedef -i de_DE -f UTF-8 de_DE.UTF-8
fi
