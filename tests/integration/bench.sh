#!/usr/bin/env bash
# Integration test of kinfer-bench against kinfer-server: short closed- and
# open-loop runs over h2c, HTTP/1.1 and TLS, the --json line's fields and
# values, and the exit status when requests fail.
#
# Environment: KINFER_BUILD_DIR (holds kinfer-bench; KINFER_BENCH overrides
# the path), KINFER_SERVER (kinfer-server).  Prints one line per failed
# check and "N passed, M failed" last; exits non-zero when a check failed.
set -euo pipefail

SERVER=${KINFER_SERVER:?KINFER_SERVER must name the kinfer-server binary}
BENCH=${KINFER_BENCH:-${KINFER_BUILD_DIR:?KINFER_BUILD_DIR must be set}/kinfer-bench}
if [[ ! -x $BENCH ]]; then
  echo "kinfer-bench not found at $BENCH" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

# shellcheck source=testlib.bash
source "$(dirname "$0")/testlib.bash"
test_init bench

start_server main
URL=http://127.0.0.1:$port

have_tls=0
if command -v openssl >/dev/null 2>&1; then
  if openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$tmp/key.pem" \
    -out "$tmp/cert.pem" >/dev/null 2>&1; then
    start_server tls --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem"
    TLS_URL=https://127.0.0.1:$port
    have_tls=1
  fi
fi

closed_port=$(python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

cat >"$tmp/add_sub.json" <<'EOF'
{"inputs":[{"name":"INPUT0","shape":[1,16],"datatype":"INT32","data":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]},
{"name":"INPUT1","shape":[1,16],"datatype":"INT32","data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}]}
EOF
python3 -c 'import json
print(json.dumps({"inputs": [{"name": "x", "shape": [1, 1000], "datatype": "FP32",
                             "data": [i / 8 for i in range(1000)]}]}))' >"$tmp/echo.json"

passed=0
failed=0
rc=0
shown=

# bench ARGS...: runs kinfer-bench; stdout in $tmp/out, stderr in $tmp/err,
# exit status in $rc.
bench() {
  set +e
  timeout 60 "$BENCH" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
  rc=$?
  set -e
  last_cmd="kinfer-bench $*"
  shown=
}

pass() { passed=$((passed + 1)); }
fail() {
  failed=$((failed + 1))
  printf 'FAIL: %s: %s\n' "$1" "$2"
  if [[ $shown != "$last_cmd" ]]; then
    shown=$last_cmd
    printf '  command: %s\n  exit: %s\n  stdout: %s\n  stderr: %s\n' \
      "$last_cmd" "$rc" "$(tail -c 1200 "$tmp/out")" "$(tail -c 800 "$tmp/err")"
  fi
}

# check_rc NAME WANT: the last run exited with WANT.
check_rc() {
  if [[ $rc == "$2" ]]; then pass; else fail "$1" "exit $rc, want $2"; fi
}

# check_json NAME PYTHON-CONDITIONS...: the last line of stdout is a JSON
# object with every documented field, sane values, and each condition (a
# Python expression over the dict j) holds.
check_json() {
  local name=$1 out
  shift
  if out=$(python3 - "$tmp/out" "$@" <<'EOF'
import json, math, sys
lines = open(sys.argv[1]).read().splitlines()
if not lines:
    sys.exit("no output")
try:
    j = json.loads(lines[-1])
except ValueError as e:
    sys.exit("last line is not JSON: %s: %r" % (e, lines[-1][:200]))
fields = {"requests": int, "errors": int, "seconds": (int, float),
          "rps": (int, float), "latency_us": dict, "cpu_user_s": (int, float),
          "cpu_sys_s": (int, float), "cpu_us_per_request": (int, float),
          "protocol": str, "connections": int}
for k, t in fields.items():
    if k not in j:
        sys.exit("missing field %s" % k)
    if not isinstance(j[k], t) or isinstance(j[k], bool):
        sys.exit("field %s has type %s" % (k, type(j[k]).__name__))
lat = j["latency_us"]
keys = ["p50", "p90", "p99", "p999", "max"]
for k in keys:
    if not isinstance(lat.get(k), (int, float)):
        sys.exit("latency_us.%s missing or not a number" % k)
vals = [lat[k] for k in keys]
if vals != sorted(vals):
    sys.exit("latency percentiles not in order: %r" % vals)
if j["protocol"] not in ("h2", "http/1.1"):
    sys.exit("protocol %r" % j["protocol"])
for k in ("seconds", "rps", "cpu_user_s", "cpu_sys_s", "cpu_us_per_request"):
    if j[k] < 0 or not math.isfinite(j[k]):
        sys.exit("%s = %r" % (k, j[k]))
ok = j["requests"] - j["errors"]
if ok > 0:
    if not (0 < lat["p50"] < 10e6):
        sys.exit("p50 = %r" % lat["p50"])
    if not (j["seconds"] > 0 and j["rps"] > 0):
        sys.exit("seconds %r rps %r" % (j["seconds"], j["rps"]))
    # rps is requests over seconds
    if abs(j["rps"] - j["requests"] / j["seconds"]) > 0.01 * j["rps"] + 0.01:
        sys.exit("rps %r != requests/seconds" % j["rps"])
for cond in sys.argv[2:]:
    if not eval(cond, {}, {"j": j, "lat": lat}):
        sys.exit("condition failed: %s (got %s)" % (cond, json.dumps(j)))
EOF
  ); then pass; else fail "$name" "$out"; fi
}

# ---- closed loop ---------------------------------------------------------
common=(--model add_sub --data "$tmp/add_sub.json" --json --no-progress)

bench --url "$URL" "${common[@]}" --http2 --requests 200 --concurrency 8
check_rc "h2c closed loop exit" 0
check_json "h2c closed loop" 'j["requests"] == 200' 'j["errors"] == 0' \
  'j["protocol"] == "h2"' 'j["connections"] == 1'

bench --url "$URL" "${common[@]}" --requests 200 --concurrency 8
check_rc "http/1.1 closed loop exit" 0
check_json "http/1.1 closed loop" 'j["requests"] == 200' 'j["errors"] == 0' \
  'j["protocol"] == "http/1.1"'

bench --url "$URL" "${common[@]}" --http2 --requests 200 --concurrency 8 \
  --connections 2
check_rc "two connections exit" 0
check_json "two connections" 'j["requests"] == 200' 'j["errors"] == 0' \
  'j["connections"] == 2' 'j["protocol"] == "h2"'

for api in sync callback cq; do
  bench --url "$URL" "${common[@]}" --http2 --requests 200 --concurrency 8 \
    --api "$api"
  check_rc "--api $api exit" 0
  check_json "--api $api" 'j["requests"] == 200' 'j["errors"] == 0'
done

bench --url "$URL" --model echo --data "$tmp/echo.json" --binary --json \
  --http2 --requests 200 --concurrency 4
check_rc "--binary exit" 0
check_json "--binary" 'j["requests"] == 200' 'j["errors"] == 0'

bench --url "$URL" "${common[@]}" --http2 --requests 200 --concurrency 8 \
  --warmup 0.3
check_rc "--warmup exit" 0
check_json "--warmup" 'j["requests"] == 200' 'j["errors"] == 0'

# ---- open loop -----------------------------------------------------------
bench --url "$URL" "${common[@]}" --http2 --rate 400 --duration 1 \
  --concurrency 16
check_rc "--rate exit" 0
check_json "--rate" '360 <= j["requests"] <= 401' 'j["errors"] == 0' \
  '0.9 <= j["seconds"] <= 1.6'

bench --url "$URL" "${common[@]}" --rate 300 --requests 100 --concurrency 4
check_rc "--rate --requests exit" 0
check_json "--rate --requests" 'j["requests"] == 100' 'j["errors"] == 0' \
  'j["protocol"] == "http/1.1"' '0.25 <= j["seconds"] <= 1.5'

# ---- progress ------------------------------------------------------------
bench --url "$URL" --model add_sub --data "$tmp/add_sub.json" --http2 \
  --duration 1.3 --progress
check_rc "--progress exit" 0
if grep -q 'req/s.*p50.*p99.*errors' "$tmp/err"; then pass; else
  fail "--progress" "no progress line on stderr"
fi
if grep -q 'throughput' "$tmp/out"; then pass; else
  fail "summary" "no human-readable summary on stdout"
fi

# ---- TLS -----------------------------------------------------------------
if ((have_tls)); then
  bench --url "$TLS_URL" "${common[@]}" --http2 --requests 200 --concurrency 8 \
    --cacert "$tmp/cert.pem"
  check_rc "https h2 exit" 0
  check_json "https h2" 'j["requests"] == 200' 'j["errors"] == 0' \
    'j["protocol"] == "h2"'
  bench --url "$TLS_URL" "${common[@]}" --requests 100 --concurrency 4 --insecure
  check_rc "https http/1.1 exit" 0
  check_json "https http/1.1" 'j["requests"] == 100' 'j["protocol"] == "http/1.1"'
  bench --url "$TLS_URL" "${common[@]}" --http2 --requests 10 --retries 0
  check_rc "https unverified exit" 1
  check_json "https unverified" 'j["errors"] == j["requests"] == 10'
fi

# ---- failures ------------------------------------------------------------
bench --url "http://127.0.0.1:$closed_port" "${common[@]}" --requests 20 \
  --concurrency 4 --retries 0
check_rc "closed port exit" 1
check_json "closed port" 'j["requests"] == 20' 'j["errors"] == 20'

bench --url "http://127.0.0.1:$closed_port" "${common[@]}" --requests 20 \
  --concurrency 4 --retries 0 --allow-errors
check_rc "closed port --allow-errors exit" 0

bench --url "$URL" --model no_such_model --data "$tmp/add_sub.json" --json \
  --requests 10 --http2
check_rc "unknown model exit" 1
check_json "unknown model" 'j["errors"] == 10'

bench --url "$URL" --model add_sub --requests 10
check_rc "missing --data exit" 2
bench --url "$URL" "${common[@]}" --concurrency 0
check_rc "bad --concurrency exit" 2
bench --url "$URL" --model add_sub --data "$tmp/missing.json" --requests 10
check_rc "unreadable --data exit" 3

echo "$passed passed, $failed failed"
((failed == 0))
