#!/usr/bin/env bash
# Installs the Debian packages kinfer needs to build, test and demo.
# Does nothing when they are all present already.
set -euo pipefail

pkgs=(build-essential cmake pkg-config libnghttp2-dev libssl-dev libjson-c-dev
      check nghttp2-client curl openssl python3 clang libclang-rt-14-dev)
if [ "${1:-}" = "--test" ]; then
  pkgs+=(valgrind)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
