#!/usr/bin/env bash
# The quick-start demo: installs what is needed, builds kinfer, starts the
# bundled kinfer-server on loopback, and makes real calls with the kinfer CLI
# over HTTP/2 (h2c) and HTTP/1.1.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build="$top/build"

"$top/tools/scripts/deps.sh"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKINFER_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null

tmp=$(mktemp -d)
"$build/kinfer-server" --listen 127.0.0.1:0 --port-file "$tmp/port" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 500); do [ -s "$tmp/port" ] && break; sleep 0.02; done
url="http://127.0.0.1:$(cat "$tmp/port")"
kinfer="$build/kinfer"

run() { # prints the command as one could paste it, then runs it
  printf '\n$ kinfer'
  for a in "$@"; do
    if [[ $a =~ [^A-Za-z0-9_./:=,@-] ]]; then printf " '%s'" "$a"; else printf ' %s' "$a"; fi
  done
  printf '\n'
  "$kinfer" "$@"
}

echo "kinfer-server listening on $url"
run --protocol v2 --http2 live "$url"
run --protocol v2 --http2 ready "$url"
run --protocol v2 --http2 model-ready "$url" echo
run --protocol v2 model-ready "$url" not_ready || echo "(exit $?: not ready)"
run --protocol v2 --http2 --verbose infer "$url" echo \
  -d '{"inputs":[{"name":"x","shape":[2,2],"datatype":"INT32","data":[1,2,3,4]}]}'
run --protocol v2 --verbose infer "$url" echo \
  -d '{"inputs":[{"name":"x","shape":[2,2],"datatype":"INT32","data":[1,2,3,4]}]}'
run --protocol v2 --http2 --pretty infer "$url" add_sub \
  -i INPUT0:FP32:1x4:1,2,3,4 -i INPUT1:FP32:1x4:0.5,0.5,0.5,0.5
run --protocol v2 --http2 --binary infer "$url" echo -i x:FP64:3:0.1,0.2,0.3
run --protocol v1 infer "$url" echo -d '{"instances":[[1,2],[3,4]]}'
run --protocol v2 infer "$url" nope -d '{"inputs":[]}' || echo "(exit $?: HTTP error)"
