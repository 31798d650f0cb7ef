#!/usr/bin/env bash
# Smoke test for kinfer-server: every endpoint over HTTP/1.1, h2c and TLS,
# exact model results, the binary tensor extension, error answers, malformed
# input and a short h2load run. Needs curl, nghttp, h2load, openssl, python3.
# Usage: KINFER_SERVER=/path/to/kinfer-server bash server_smoke.sh
set -euo pipefail

SERVER=${KINFER_SERVER:?set KINFER_SERVER to the kinfer-server binary}
TMP=$(mktemp -d)
PIDS=()
PASS=0
FAIL=0

cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

pass() { PASS=$((PASS + 1)); }
fail() { FAIL=$((FAIL + 1)); echo "FAIL: $*" >&2; }
# check NAME COMMAND...: one test case.
check() {
  local name=$1
  shift
  if "$@" >"$TMP/check.out" 2>&1; then pass; else fail "$name"; sed 's/^/  | /' "$TMP/check.out" >&2; fi
}

# start NAME ARGS...: starts a server on a free port; sets PORT and SPID.
start() {
  local name=$1
  shift
  rm -f "$TMP/$name.port"
  "$SERVER" --listen 127.0.0.1:0 --port-file "$TMP/$name.port" --quiet "$@" \
    2>"$TMP/$name.log" &
  SPID=$!
  PIDS+=("$SPID")
  for _ in $(seq 200); do
    [[ -s $TMP/$name.port ]] && break
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.05
  done
  PORT=$(cat "$TMP/$name.port")
}

# http STATUS CURL-ARGS...: the request must answer STATUS; the body is kept
# in $TMP/body and the response headers in $TMP/headers.
http() {
  local want=$1
  shift
  local got
  got=$(curl -sS --max-time 10 -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' "$@")
  [[ $got == "$want" ]] || { echo "status $got, want $want: $(head -c 300 "$TMP/body")"; return 1; }
}

# json PYTHON-EXPR: the last body, parsed as d, must satisfy the expression.
json() {
  python3 - "$TMP/body" "$1" <<'PY'
import json, math, struct, sys
d = json.load(open(sys.argv[1]))
f32 = lambda x: struct.unpack('<f', struct.pack('<f', x))[0]
ok = eval(sys.argv[2])
if not ok:
    print("unexpected body:", json.dumps(d)[:400])
sys.exit(0 if ok else 1)
PY
}

# http_json STATUS PYTHON-EXPR CURL-ARGS...
http_json() {
  local status=$1 expr=$2
  shift 2
  http "$status" "$@" && json "$expr"
}

# expect NAME STATUS PYTHON-EXPR CURL-ARGS...
expect() {
  local name=$1
  shift
  check "$name" http_json "$@"
}

error_is() { echo "d == {'error': '$1'}"; }

start main --max-body 1048576
BASE=http://127.0.0.1:$PORT

# ---- endpoints, over HTTP/1.1 and h2c -------------------------------------
for proto in --http1.1 --http2-prior-knowledge; do
  p="$proto"
  expect "live $p" 200 "d == {'live': True}" "$p" "$BASE/v2/health/live"
  expect "ready $p" 200 "d == {'ready': True}" "$p" "$BASE/v2/health/ready"
  expect "model ready $p" 200 "d == {'name': 'echo', 'ready': True}" "$p" "$BASE/v2/models/echo/ready"
  expect "not_ready $p" 503 "'error' in d" "$p" "$BASE/v2/models/not_ready/ready"
  expect "unknown model $p" 404 "$(error_is 'Model with name nope does not exist.')" \
    "$p" "$BASE/v2/models/nope/ready"
  expect "metadata $p" 200 \
    "d['name'] == 'add_sub' and set(d) >= {'versions', 'platform', 'inputs', 'outputs'} and [i['name'] for i in d['inputs']] == ['INPUT0', 'INPUT1']" \
    "$p" "$BASE/v2/models/add_sub"
  expect "v1 root $p" 200 "d == {'status': 'alive'}" "$p" "$BASE/"
  expect "v1 model $p" 200 "d == {'name': 'echo', 'ready': True}" "$p" "$BASE/v1/models/echo"
  expect "v1 not_ready $p" 503 "'error' in d" "$p" "$BASE/v1/models/not_ready"
  expect "v1 unknown $p" 404 "$(error_is 'Model with name nope does not exist.')" \
    "$p" "$BASE/v1/models/nope"
  expect "v1 predict $p" 200 "d == {'predictions': [[1, 2.5], ['a', True]]}" \
    "$p" -d '{"instances": [[1, 2.5], ["a", true]]}' "$BASE/v1/models/echo:predict"
  expect "v1 explain $p" 200 "d == {'predictions': [3]}" \
    "$p" -d '{"inputs": [3]}' "$BASE/v1/models/echo:explain"
  expect "unknown path $p" 404 "'error' in d" "$p" "$BASE/v3/nothing"
  expect "wrong method $p" 405 "'error' in d" "$p" -X POST "$BASE/v2/health/live"
  expect "add_sub INT32 $p" 200 \
    "d['model_name'] == 'add_sub' and d['id'] == 'r1' and d['outputs'] == [{'name': 'OUTPUT0', 'datatype': 'INT32', 'shape': [2, 2], 'data': [11, 22, 33, -2147483648]}, {'name': 'OUTPUT1', 'datatype': 'INT32', 'shape': [2, 2], 'data': [-9, -18, -27, 2147483646]}]" \
    "$p" -H 'content-type: application/json' "$BASE/v2/models/add_sub/infer" -d \
    '{"id": "r1", "inputs": [{"name": "INPUT0", "shape": [2, 2], "datatype": "INT32", "data": [[1, 2], [3, 2147483647]]}, {"name": "INPUT1", "shape": [2, 2], "datatype": "INT32", "data": [10, 20, 30, 1]}]}'
done

# ---- exact results ----------------------------------------------------------
A='[0.1, 1.5, -3.25, 3.4028234e38, 1e-45]'
B='[0.2, 2.5, 1.0, 1e30, 1e-45]'
expect "add_sub FP32 exact" 200 \
  "[[f32(x) for x in o['data']] for o in d['outputs']] == [[f32(f32(a) + f32(b)) for a, b in zip($A, $B)], [f32(f32(a) - f32(b)) for a, b in zip($A, $B)]] and d['outputs'][0]['data'][:2] == [0.3, 4] and len(d['id']) == 36" \
  "$BASE/v2/models/add_sub/infer" -d \
  "{\"inputs\": [{\"name\": \"INPUT1\", \"shape\": [5], \"datatype\": \"FP32\", \"data\": $B}, {\"name\": \"INPUT0\", \"shape\": [5], \"datatype\": \"FP32\", \"data\": $A}]}"

ECHO_REQ='{"id": "e1", "parameters": {"k": "v", "n": 2}, "inputs": [
 {"name": "b", "shape": [3], "datatype": "BOOL", "data": [true, false, true]},
 {"name": "u8", "shape": [2], "datatype": "UINT8", "data": [0, 255]},
 {"name": "i64", "shape": [2], "datatype": "INT64", "data": [-9223372036854775808, 9223372036854775807]},
 {"name": "u64", "shape": [1], "datatype": "UINT64", "data": [18446744073709551615]},
 {"name": "f64", "shape": [2, 1], "datatype": "FP64", "data": [[0.1], [-1.7976931348623157e308]]},
 {"name": "s", "shape": [2], "datatype": "BYTES", "data": ["hello", "q\"uote\n"], "parameters": {"content_type": "str"}}]}'
expect "echo all types" 200 \
  "d['id'] == 'e1' and d['parameters'] == {'k': 'v', 'n': 2} and [(o['name'], o['datatype'], o['shape'], o['data']) for o in d['outputs']] == [('output-0', 'BOOL', [3], [True, False, True]), ('output-1', 'UINT8', [2], [0, 255]), ('output-2', 'INT64', [2], [-2**63, 2**63 - 1]), ('output-3', 'UINT64', [1], [2**64 - 1]), ('output-4', 'FP64', [2, 1], [0.1, -1.7976931348623157e308]), ('output-5', 'BYTES', [2], ['hello', 'q\"uote\n'])] and d['outputs'][5]['parameters'] == {'content_type': 'str'}" \
  "$BASE/v2/models/echo/infer" -d "$ECHO_REQ"
expect "echo requested outputs" 200 \
  "[o['name'] for o in d['outputs']] == ['output-5', 'output-1']" \
  --http2-prior-knowledge "$BASE/v2/models/echo/infer" -d \
  "${ECHO_REQ%]\}}], \"outputs\": [{\"name\": \"output-5\"}, {\"name\": \"output-1\"}]}"

# ---- binary tensor extension ------------------------------------------------
python3 - "$TMP" <<'PY'
import json, struct, sys
tmp = sys.argv[1]
def body(header, *blobs):
    h = json.dumps(header).encode()
    return len(h), h + b''.join(blobs)
a = struct.pack('<4i', 1, 2, 3, 4)
b = struct.pack('<4i', 10, 20, 30, 40)
inp = lambda n, blob: {"name": n, "shape": [4], "datatype": "INT32", "parameters": {"binary_data_size": len(blob)}}
cases = {
  "bin_json_out": ({"inputs": [inp("INPUT0", a), inp("INPUT1", b)]}, [a, b]),
  "bin_bin_out": ({"inputs": [inp("INPUT0", a), inp("INPUT1", b)], "parameters": {"binary_data_output": True}}, [a, b]),
  "bin_bytes": ({"inputs": [{"name": "s", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": 13}},
                            {"name": "h", "shape": [2], "datatype": "FP16", "parameters": {"binary_data_size": 4}}],
                 "outputs": [{"name": "output-0", "parameters": {"binary_data": True}}, {"name": "output-1", "parameters": {"binary_data": True}}]},
                [struct.pack('<I', 3) + b'abc' + struct.pack('<I', 2) + b'\x00\xff', b'\x00\x3c\x00\xc0']),
  "bin_bytes_json": ({"inputs": [{"name": "s", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": 6}}]},
                     [struct.pack('<I', 2) + b'\xc3\x28']),
  "bin_short": ({"inputs": [inp("INPUT0", a), inp("INPUT1", b)]}, [a, b[:-1]]),
  "bin_extra": ({"inputs": [inp("INPUT0", a), inp("INPUT1", b)]}, [a, b, b'x']),
  "bin_bad_bytes": ({"inputs": [{"name": "s", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": 6}}]},
                    [struct.pack('<I', 99) + b'ab']),
  "bin_size_mismatch": ({"inputs": [{"name": "x", "shape": [3], "datatype": "INT32", "parameters": {"binary_data_size": 8}}]},
                        [b'\0' * 8]),
}
for name, (hdr, blobs) in cases.items():
    n, data = body(hdr, *blobs)
    open(f"{tmp}/{name}.bin", "wb").write(data)
    open(f"{tmp}/{name}.len", "w").write(str(n))
PY
bin_post() { # NAME STATUS [curl args]
  local name=$1 status=$2
  shift 2
  http "$status" "$BASE/v2/models/$MODEL/infer" --data-binary "@$TMP/$name.bin" \
    -H "Inference-Header-Content-Length: $(cat "$TMP/$name.len")" \
    -H 'Content-Type: application/octet-stream' "$@"
}
# Splits a binary response into $TMP/body (JSON) and $TMP/rest (tensor bytes).
split_binary() {
  local n
  n=$(tr -d '\r' <"$TMP/headers" | awk -F': ' 'tolower($1) == "inference-header-content-length" {print $2}')
  [[ -n $n ]] || { echo "no Inference-Header-Content-Length"; return 1; }
  grep -qi '^content-type: application/octet-stream' "$TMP/headers" || { echo "content type"; return 1; }
  tail -c +$((n + 1)) "$TMP/body" >"$TMP/rest"
  head -c "$n" "$TMP/body" >"$TMP/json" && mv "$TMP/json" "$TMP/body"
}
MODEL=add_sub
check "binary request, JSON response" eval 'bin_post bin_json_out 200 &&
  json "[o[\"data\"] for o in d[\"outputs\"]] == [[11, 22, 33, 44], [-9, -18, -27, -36]]"'
check "binary response" eval 'bin_post bin_bin_out 200 --http2-prior-knowledge && split_binary &&
  json "[o[\"parameters\"] for o in d[\"outputs\"]] == [{\"binary_data_size\": 16}] * 2 and all(\"data\" not in o for o in d[\"outputs\"])" &&
  python3 -c "import struct,sys; sys.exit(struct.unpack(\"<8i\", open(sys.argv[1],\"rb\").read()) != (11,22,33,44,-9,-18,-27,-36))" "$TMP/rest"'
MODEL=echo
check "binary BYTES and FP16 echo" eval 'bin_post bin_bytes 200 && split_binary &&
  json "[(o[\"datatype\"], o[\"parameters\"]) for o in d[\"outputs\"]] == [(\"BYTES\", {\"binary_data_size\": 13}), (\"FP16\", {\"binary_data_size\": 4})]" &&
  python3 -c "import sys; sys.exit(open(sys.argv[1],\"rb\").read() != b\"\x03\0\0\0abc\x02\0\0\0\0\xff\0\x3c\0\xc0\")" "$TMP/rest"'
for c in bin_bytes_json bin_short bin_extra bin_bad_bytes bin_size_mismatch; do
  check "binary $c -> 400" eval "bin_post $c 400 && json \"'error' in d\""
done
check "header length beyond body -> 400" http 400 "$BASE/v2/models/echo/infer" \
  -H 'Inference-Header-Content-Length: 99999' -d '{"inputs": []}'
check "header length not a number -> 400" http 400 "$BASE/v2/models/echo/infer" \
  -H 'Inference-Header-Content-Length: 12x' -d '{"inputs": []}'

# ---- errors and malformed input ------------------------------------------------
bad() { # NAME BODY [MODEL]
  check "$1 -> 400" eval 'http 400 "$BASE/v2/models/${3:-echo}/infer" -d "$2" && json "isinstance(d.get(\"error\"), str)"'
}
T='"name": "x", "datatype": "INT32"'
bad "truncated JSON" '{"inputs": [{"name": "x", "shape": [1], "datatype": "INT32", "data": [1'
bad "not JSON" 'garbage \x01\x02'
bad "trailing garbage" "{\"inputs\": [{$T, \"shape\": [1], \"data\": [1]}]} xyz"
bad "negative dim" "{\"inputs\": [{$T, \"shape\": [-1], \"data\": []}]}"
bad "shape overflow" "{\"inputs\": [{$T, \"shape\": [4294967296, 4294967296, 4294967296], \"data\": [1]}]}"
bad "data count mismatch" "{\"inputs\": [{$T, \"shape\": [3], \"data\": [1, 2]}]}"
bad "string in INT32" "{\"inputs\": [{$T, \"shape\": [1], \"data\": [\"1\"]}]}"
bad "float in INT32" "{\"inputs\": [{$T, \"shape\": [1], \"data\": [1.5]}]}"
bad "INT32 out of range" "{\"inputs\": [{$T, \"shape\": [1], \"data\": [2147483648]}]}"
bad "UINT64 beyond 64 bits" '{"inputs": [{"name": "x", "datatype": "UINT64", "shape": [1], "data": [18446744073709551616]}]}'
bad "INT64 below range" '{"inputs": [{"name": "x", "datatype": "INT64", "shape": [1], "data": [-9223372036854775809]}]}'
bad "UINT8 negative" '{"inputs": [{"name": "x", "datatype": "UINT8", "shape": [1], "data": [-1]}]}'
bad "FP32 overflow" '{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1e39]}]}'
bad "FP16 as JSON" '{"inputs": [{"name": "x", "datatype": "FP16", "shape": [1], "data": [1]}]}'
bad "unknown datatype" '{"inputs": [{"name": "x", "datatype": "INT128", "shape": [1], "data": [1]}]}'
bad "no inputs" '{"id": "x"}'
bad "id not a string" "{\"id\": 7, \"inputs\": [{$T, \"shape\": [1], \"data\": [1]}]}"
bad "unknown requested output" "{\"inputs\": [{$T, \"shape\": [1], \"data\": [1]}], \"outputs\": [{\"name\": \"zz\"}]}"
bad "deep nesting" "{\"inputs\": [{$T, \"shape\": [1], \"data\": $(printf '[%.0s' $(seq 5000))1$(printf ']%.0s' $(seq 5000))}]}"
bad "add_sub missing input" "{\"inputs\": [{\"name\": \"INPUT0\", \"datatype\": \"INT32\", \"shape\": [1], \"data\": [1]}]}" add_sub
bad "add_sub shape mismatch" '{"inputs": [{"name": "INPUT0", "datatype": "INT32", "shape": [1], "data": [1]}, {"name": "INPUT1", "datatype": "INT32", "shape": [2], "data": [1, 2]}]}' add_sub
bad "add_sub FP32 overflow in JSON" '{"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1], "data": [3e38]}, {"name": "INPUT1", "datatype": "FP32", "shape": [1], "data": [3e38]}]}' add_sub
expect "infer not_ready -> 503" 503 "'error' in d" "$BASE/v2/models/not_ready/infer" \
  -d "{\"inputs\": [{$T, \"shape\": [1], \"data\": [1]}]}"
expect "infer unknown -> 404" 404 "$(error_is 'Model with name nope does not exist.')" \
  "$BASE/v2/models/nope/infer" -d "{\"inputs\": [{$T, \"shape\": [1], \"data\": [1]}]}"
expect "v1 predict without instances -> 400" 400 "'error' in d" \
  "$BASE/v1/models/echo:predict" -d '{"foo": 1}'
head -c 2000000 /dev/zero >"$TMP/big"
check "body too large -> 413" http 413 "$BASE/v2/models/echo/infer" --data-binary "@$TMP/big"
check "body too large over h2 -> 413" http 413 --http2-prior-knowledge "$BASE/v2/models/echo/infer" \
  --data-binary "@$TMP/big"
# Raw HTTP/1.1 exchanges: each case sends bytes and checks the reply.
raw() { # NAME PYTHON-SNIPPET (s: socket; recv_all(); send())
  check "$1" python3 - "$PORT" "$2" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
def recv_all():
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk
def recv_until(marker, n=1):
    data = b""
    while data.count(marker) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data
exec(sys.argv[2])
PY
}
GET='GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n'
raw "pipelining in order" "
s.sendall(b'$GET' + b'GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n' + b'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
r = recv_all()
assert r.count(b'HTTP/1.1 200') == 3, r
assert r.index(b'live') < r.index(b'ready') < r.index(b'alive'), r"
raw "keep-alive then close" "
s.sendall(b'$GET'); r = recv_until(b'}')
assert r.startswith(b'HTTP/1.1 200'), r
s.sendall(b'GET /v2/health/live HTTP/1.1\r\nConnection: close\r\n\r\n')
r = recv_all()
assert r.startswith(b'HTTP/1.1 200') and b'Connection: close' in r, r"
raw "chunked body" "
body = b'{\"instances\": [1, 2]}'
s.sendall(b'POST /v1/models/echo:predict HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' + b'5\r\n' + body[:5] + b'\r\n' + b'%x\r\n' % (len(body) - 5) + body[5:] + b'\r\n0\r\n\r\n')
r = recv_all()
assert r.startswith(b'HTTP/1.1 200') and r.endswith(b'{\"predictions\":[1,2]}'), r"
raw "expect 100-continue" "
body = b'{\"inputs\": [7]}'
s.sendall(b'POST /v1/models/echo:predict HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n' % len(body))
r = recv_until(b'\r\n\r\n')
assert r == b'HTTP/1.1 100 Continue\r\n\r\n', r
s.sendall(body)
r = recv_until(b'}}') if False else recv_until(b']}')
assert r.startswith(b'HTTP/1.1 200') and r.endswith(b'{\"predictions\":[7]}'), r"
raw "Content-Length with chunked -> 400" "
s.sendall(b'POST /v1/models/echo:predict HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')
r = recv_all()
assert r.startswith(b'HTTP/1.1 400'), r"
raw "conflicting Content-Length -> 400" "
s.sendall(b'POST /v1/models/echo:predict HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd')
assert recv_all().startswith(b'HTTP/1.1 400')"
raw "huge header -> 431" "
s.sendall(b'GET / HTTP/1.1\r\nX: ' + b'a' * 70000 + b'\r\n\r\n')
assert recv_all().startswith(b'HTTP/1.1 431')"
raw "garbage request line -> 400" "
s.sendall(b'\x16\x03\x01\x02\x00 garbage\r\n\r\n')
assert recv_all().startswith(b'HTTP/1.1 400')"
raw "truncated body, peer vanishes" "
s.sendall(b'POST /v2/models/echo/infer HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"inp')
s.close()"
raw "HEAD has no body" "
s.sendall(b'HEAD /v2/health/live HTTP/1.1\r\nConnection: close\r\n\r\n')
r = recv_all()
assert r.startswith(b'HTTP/1.1 200') and r.endswith(b'\r\n\r\n'), r"
counters() { http 200 "$BASE/_executions" && python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["executions"], d["duplicates"])' "$TMP/body"; }
duplicate_ids() {
  local e0 d0 e1 d1
  read -r e0 d0 < <(counters)
  for _ in 1 2 3; do
    http 200 "$BASE/v2/models/echo/infer" -d "{\"id\": \"dup-1\", \"inputs\": [{$T, \"shape\": [1], \"data\": [1]}]}"
  done
  read -r e1 d1 < <(counters)
  echo "executions $e0 -> $e1, duplicates $d0 -> $d1"
  ((e1 == e0 + 3 && d1 == d0 + 1))
}
check "/_executions counts runs and duplicate ids" duplicate_ids

# ---- real HTTP/2 clients --------------------------------------------------------
check "nghttp h2c session" eval 'nghttp -v "$BASE/v2/health/ready" >"$TMP/nghttp.out" &&
  grep -q "recv SETTINGS frame" "$TMP/nghttp.out" && grep -q "SETTINGS_MAX_CONCURRENT_STREAMS(0x03):1000" "$TMP/nghttp.out" &&
  grep -q ":status: 200" "$TMP/nghttp.out" && grep -q "{\"ready\":true}" "$TMP/nghttp.out"'
printf '%s' '{"inputs": [{"name": "INPUT0", "shape": [4], "datatype": "INT32", "data": [1, 2, 3, 4]}, {"name": "INPUT1", "shape": [4], "datatype": "INT32", "data": [4, 3, 2, 1]}]}' >"$TMP/add_sub.json"
check "h2load 200 requests" eval 'h2load -n 200 -c 2 -m 10 -d "$TMP/add_sub.json" -H "content-type: application/json" \
  "$BASE/v2/models/add_sub/infer" >"$TMP/h2load.out" &&
  grep -q "200 succeeded, 0 failed" "$TMP/h2load.out" && grep -q "status codes: 200 2xx" "$TMP/h2load.out"'
check "server alive after bad input" http 200 "$BASE/v2/health/live"

# ---- TLS, ALPN ----------------------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
  -days 1 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 2>/dev/null
start tls --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem"
TLS=https://127.0.0.1:$PORT
check "TLS HTTP/1.1" eval '[[ $(curl -sk --http1.1 -o /dev/null -w "%{http_version} %{http_code}" "$TLS/v2/health/live") == "1.1 200" ]]'
check "TLS h2 by ALPN" eval '[[ $(curl -sk --http2 -o /dev/null -w "%{http_version} %{http_code}" "$TLS/v2/health/ready") == "2 200" ]]'
check "TLS verified with the CA" eval '[[ $(curl -s --cacert "$TMP/cert.pem" -w "%{http_code}" -o /dev/null "$TLS/") == 200 ]]'
expect "TLS h2 infer" 200 "d['outputs'][0]['data'] == [5, 5, 5, 5]" -k --http2 \
  "$TLS/v2/models/add_sub/infer" -d "@$TMP/add_sub.json"
check "TLS garbage, then a vanishing peer" python3 -c '
import socket, ssl, sys
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"GET / HTTP/1.1\r\n\r\n")
try:
    assert not s.recv(100).startswith(b"HTTP/")
except ConnectionResetError:
    pass
s.close()
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"\x16\x03\x01\x00\x05hello")
s.close()
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="x")
t.sendall(b"POST /v2/models/echo/infer HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
t.close()' "$PORT"
check "TLS h2load" eval 'h2load -n 100 -c 2 -m 10 -d "$TMP/add_sub.json" "$TLS/v2/models/add_sub/infer" >"$TMP/h2load-tls.out" &&
  grep -q "100 succeeded, 0 failed" "$TMP/h2load-tls.out" && grep -q "h2" "$TMP/h2load-tls.out"'

# ---- options ------------------------------------------------------------------------
start h1only --h1-only
check "--h1-only answers the h2 preface with 400" python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
r = s.recv(100)
assert r.startswith(b"HTTP/1.1 400"), r' "$PORT"
check "--h1-only still serves HTTP/1.1" http 200 "http://127.0.0.1:$PORT/v2/health/live"
start delay --delay-ms 300
check "--delay-ms runs requests concurrently" eval 's=$(date +%s%N) &&
  h2load -n 20 -c 1 -m 20 -d "$TMP/add_sub.json" "http://127.0.0.1:$PORT/v2/models/add_sub/infer" >"$TMP/h2load-delay.out" &&
  grep -q "20 succeeded" "$TMP/h2load-delay.out" && e=$((($(date +%s%N) - s) / 1000000)) && echo "${e} ms" && ((e >= 300 && e < 2000))'
start noalpn --no-alpn-h2 --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem"
check "--no-alpn-h2 falls back to HTTP/1.1" eval '[[ $(curl -sk --http2 -o /dev/null -w "%{http_version}" "https://127.0.0.1:$PORT/") == 1.1 ]]'
start refuse --refuse-every 2
check "--refuse-every 2" eval 'nghttp -v -m 4 -d "$TMP/add_sub.json" "http://127.0.0.1:$PORT/v2/models/add_sub/infer" >"$TMP/refuse.out";
  [[ $(grep -c "error_code=REFUSED_STREAM" "$TMP/refuse.out") == 2 && $(grep -c ":status: 200" "$TMP/refuse.out") == 2 ]]'
start goaway --goaway-after 2 --delay-ms 100
check "--goaway-after 2 (two-phase)" eval 'nghttp -v -m 4 -d "$TMP/add_sub.json" "http://127.0.0.1:$PORT/v2/models/add_sub/infer" >"$TMP/goaway.out";
  grep -q "last_stream_id=2147483647" "$TMP/goaway.out" && grep -q "last_stream_id=[1-9][0-9]*, error_code=NO_ERROR" "$TMP/goaway.out" &&
  [[ $(grep -c ":status: 200" "$TMP/goaway.out") == 4 ]]'
start status --status 503 --status-every 2 --retry-after 1
check "--status 503 --status-every 2" eval 'http 200 "http://127.0.0.1:$PORT/v2/models/add_sub/infer" -d "@$TMP/add_sub.json" &&
  http 503 "http://127.0.0.1:$PORT/v2/models/add_sub/infer" -d "@$TMP/add_sub.json" && grep -qi "^retry-after: 1" "$TMP/headers"'
start drop --drop-after 1
check "--drop-after 1" eval '! curl -s "http://127.0.0.1:$PORT/v2/models/add_sub/infer" -d "@$TMP/add_sub.json" &&
  http 200 "http://127.0.0.1:$PORT/_executions" && json "d[\"executions\"] == 1"'
check "usage error exits 2" eval '"$SERVER" --bogus 2>/dev/null; [[ $? == 2 ]]'
check "--help documents the options" eval '"$SERVER" --help | grep -q -- "--drop-after"'

# ---- clean shutdown (LeakSanitizer reports make the exit status non-zero) ------------
for pid in "${PIDS[@]}"; do
  check "server $pid exits 0 on SIGTERM" eval "kill -TERM $pid && wait $pid"
done
PIDS=()

echo "$PASS passed, $FAIL failed"
((FAIL == 0))
