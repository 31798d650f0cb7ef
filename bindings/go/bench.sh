#!/usr/bin/env bash
# Runs the Go benchmarks and kinfer-bench on the same request, alternating
# ROUNDS times, and prints every throughput (req/s) so the medians can be
# taken.  The machine should be otherwise idle.
#   KINFER_SERVER=build/kinfer-server KINFER_BENCH=build/kinfer-bench \
#   PKG_CONFIG_PATH=prefix/lib/pkgconfig LD_LIBRARY_PATH=prefix/lib bash bench.sh
set -euo pipefail
: "${KINFER_SERVER:?}" "${KINFER_BENCH:?}"
rounds=${ROUNDS:-3}
secs=${SECS:-2}
cd "$(dirname "${BASH_SOURCE[0]}")"
tmp=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
go test -c -o "$tmp/kinfer.test" .
"$KINFER_SERVER" --listen 127.0.0.1:0 --port-file "$tmp/port" --quiet --threads 2 &
server=$!
for _ in $(seq 500); do [ -s "$tmp/port" ] && break; sleep 0.01; done
url=http://127.0.0.1:$(cat "$tmp/port")
for r in $(seq "$rounds"); do
  "$tmp/kinfer.test" -test.run XXX -test.bench Infer -test.benchtime "${secs}s" |
    awk -v r="$r" '/^Benchmark/ { for (i = 1; i <= NF; i++) { if ($(i+1) == "req/s") q = $i; if ($(i+1) == "cpu-us/op") c = $i }
                                  print "round " r, $1, q, c }'
  for data in json binary; do
    for proto in http1 h2c; do
      for api in callback cq; do
        args=(--url "$url" --model add_sub --data testdata/bench_request.json --protocol v2
              -n 100 -d "$secs" --api "$api" --no-progress)
        [ "$data" = binary ] && args+=(--binary)
        [ "$proto" = h2c ] && args+=(--http2)
        out=$("$KINFER_BENCH" "${args[@]}" 2>&1)
        rps=$(awk '/throughput/ { print $2 }' <<<"$out")
        cpu=$(awk '/client cpu/ { print $(NF-1) }' <<<"$out")
        echo "round $r kinfer-bench/$proto/$data/$api $rps $cpu"
      done
    done
  done
done
