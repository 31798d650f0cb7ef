#!/usr/bin/env bash
# Runs the programs in examples/ against kinfer-server and checks their output.
set -euo pipefail
: "${KINFER_BUILD_DIR:?}" "${KINFER_SERVER:?}"
tmp=$(mktemp -d)
"$KINFER_SERVER" --listen 127.0.0.1:0 --port-file "$tmp/port" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 500); do [ -s "$tmp/port" ] && break; sleep 0.02; done
url="http://127.0.0.1:$(cat "$tmp/port")"
pass=0 fail=0

out=$("$KINFER_BUILD_DIR/example-sync" "$url")
expected=$'OUTPUT0: 11 22 33 44\nOUTPUT1: -9 -18 -27 -36'
if [ "$out" = "$expected" ]; then pass=$((pass + 1)); else
  echo "FAIL: example-sync printed: $out" >&2; fail=$((fail + 1)); fi

expect() { # program, expected output
  local out
  if out=$("$KINFER_BUILD_DIR/$1" "$url") && [ "$out" = "$2" ]; then pass=$((pass + 1)); else
    echo "FAIL: $1 printed: $out" >&2; fail=$((fail + 1)); fi
}
expect example-async "100 of 100 calls answered correctly"
expect example-threads "400 of 400 calls answered correctly over 1 connection(s)"
expect example-cq "64 of 64 calls answered correctly"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
