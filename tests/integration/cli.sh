#!/usr/bin/env bash
# Integration test of the kinfer command line client against kinfer-server.
#
# Environment: KINFER_CLI (the kinfer binary), KINFER_SERVER (kinfer-server).
# Prints one line per failed check and "N passed, M failed" last; exits
# non-zero when a check failed.
set -euo pipefail

CLI=${KINFER_CLI:?KINFER_CLI must name the kinfer binary}
SERVER=${KINFER_SERVER:?KINFER_SERVER must name the kinfer-server binary}

# shellcheck source=testlib.bash
source "$(dirname "$0")/testlib.bash"
test_init cli

start_server main
URL=http://127.0.0.1:$port

# A loopback port with nothing listening on it.
closed_port=$(python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

passed=0
failed=0
rc=0

# run ARGS...: runs the client; stdout in $tmp/out, stderr in $tmp/err, exit
# status in $rc.  Standard input comes from $STDIN (default /dev/null).
run() {
  set +e
  "$CLI" "$@" >"$tmp/out" 2>"$tmp/err" <"${STDIN:-/dev/null}"
  rc=$?
  set -e
  last_cmd="kinfer $*"
  shown=
}

pass() { passed=$((passed + 1)); }
shown=
fail() {
  failed=$((failed + 1))
  printf 'FAIL: %s: %s\n' "$1" "$2"
  if [[ $shown != "$last_cmd" ]]; then # the run's details, once
    shown=$last_cmd
    printf '  command: %s\n  exit: %s\n  stdout: %s\n  stderr: %s\n' \
      "$last_cmd" "$rc" "$(head -c 800 "$tmp/out")" "$(head -c 800 "$tmp/err")"
  fi
}

# expect NAME RC [STDOUT]: the last run exited with RC (and printed exactly
# STDOUT).
expect() {
  local name=$1 want=$2
  if [[ $rc -ne $want ]]; then
    fail "$name" "exit status $rc, expected $want"
  elif [[ $# -ge 3 && "$(cat "$tmp/out")" != "$3" ]]; then
    fail "$name" "stdout is not '$3'"
  else
    pass
  fi
}

# expect_err NAME RC TEXT: the last run exited with RC, printed nothing on
# stdout and TEXT (a fixed string) on stderr.
expect_err() {
  local name=$1 want=$2 text=$3
  if [[ $rc -ne $want ]]; then
    fail "$name" "exit status $rc, expected $want"
  elif [[ -s $tmp/out ]]; then
    fail "$name" "unexpected output on stdout"
  elif ! grep -qF -- "$text" "$tmp/err"; then
    fail "$name" "stderr lacks '$text'"
  else
    pass
  fi
}

# expect_json NAME EXPR JSON: the last run succeeded and, with its stdout
# parsed as d, the Python expression EXPR equals the JSON value JSON.
# out(name) is the output tensor of that name; flat(x) flattens lists.
cat >"$tmp/check.py" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
def out(name):
    return next(o for o in d["outputs"] if o["name"] == name)
def flat(x):
    return [z for y in x for z in flat(y)] if isinstance(x, list) else [x]
try:
    got = eval(sys.argv[2])
except Exception as e:
    sys.exit("%s: %r" % (sys.argv[2], e))
want = json.loads(sys.argv[3])
if got != want:
    sys.exit("%s is %s, expected %s" % (sys.argv[2], json.dumps(got), sys.argv[3]))
EOF
expect_json() {
  local name=$1 expr=$2 want=$3 why
  if [[ $rc -ne 0 ]]; then
    fail "$name" "exit status $rc, expected 0"
  elif ! why=$(python3 "$tmp/check.py" "$tmp/out" "$expr" "$want" 2>&1); then
    fail "$name" "$why"
  else
    pass
  fi
}

# expect_grep NAME REGEX FILE: the extended regular expression matches FILE
# (case-insensitive).
expect_grep() {
  if grep -qiE -- "$2" "$3"; then pass; else fail "$1" "no match for /$2/"; fi
}

V2=(--protocol v2 --timeout 5)
BODY='{"inputs":[{"name":"x","shape":[2,2],"datatype":"INT32","data":[1,2,3,4]}]}'

# ---- health ------------------------------------------------------------------
run "${V2[@]}" live "$URL";                 expect "v2 live" 0 true
run live "$URL";                            expect "v1 live" 0 true
run "${V2[@]}" ready "$URL";                expect "v2 ready" 0 true
run "${V2[@]}" model-ready "$URL" echo;     expect "v2 model-ready echo" 0 true
run model-ready "$URL" echo;                expect "v1 model-ready echo" 0 true
run "${V2[@]}" model-ready "$URL" not_ready; expect "v2 model-ready not_ready" 1 false
run model-ready "$URL" not_ready;           expect "v1 model-ready not_ready" 1 false
run "${V2[@]}" model-ready "$URL" nope;     expect "v2 model-ready unknown" 1 false
run --protocol v1 ready "$URL";             expect_err "v1 ready unsupported" 6 "kinfer: "
run ready "$URL";                           expect "default protocol is v1" 6

# ---- infer with -d -------------------------------------------------------------
run "${V2[@]}" --http2 --verbose infer "$URL" echo -d "$BODY"
expect_json "v2 infer over HTTP/2" 'flat(out("output-0")["data"])' '[1,2,3,4]'
expect_json "v2 infer over HTTP/2: shape" 'out("output-0")["shape"]' '[2,2]'
expect_json "v2 infer over HTTP/2: datatype" 'out("output-0")["datatype"]' '"INT32"'
expect_grep "--verbose logs HTTP/2" 'HTTP/2|h2' "$tmp/err"

run "${V2[@]}" --verbose infer "$URL" echo -d "$BODY"
expect_json "v2 infer over HTTP/1.1" 'flat(out("output-0")["data"])' '[1,2,3,4]'
expect_grep "--verbose logs HTTP/1.1" 'HTTP/1\.1' "$tmp/err"
if grep -qiE 'HTTP/2' "$tmp/err"; then fail "no HTTP/2 without --http2" "HTTP/2 logged"; else pass; fi

printf '%s' "$BODY" >"$tmp/body.json"
run "${V2[@]}" infer "$URL" echo -d @"$tmp/body.json"
expect_json "-d @file" 'flat(out("output-0")["data"])' '[1,2,3,4]'
STDIN=$tmp/body.json run "${V2[@]}" infer "$URL" echo -d @-
expect_json "-d @- (stdin)" 'flat(out("output-0")["data"])' '[1,2,3,4]'
run "${V2[@]}" infer "$URL" echo -d @"$tmp/missing.json"
expect_err "-d @missing file" 2 "missing.json"

run "${V2[@]}" --pretty infer "$URL" echo -d "$BODY"
expect_json "--pretty is JSON" 'flat(out("output-0")["data"])' '[1,2,3,4]'
if [[ $(wc -l <"$tmp/out") -gt 5 ]] && grep -q '^  "outputs": \[' "$tmp/out"; then
  pass
else
  fail "--pretty indents" "not indented"
fi

run "${V2[@]}" --graph infer "$URL/v2/models/echo/infer" -d "$BODY"
expect_json "--graph posts to the URL" 'flat(out("output-0")["data"])' '[1,2,3,4]'

run "${V2[@]}" --show-headers infer "$URL" echo -d "$BODY"
expect_json "--show-headers: stdout" 'flat(out("output-0")["data"])' '[1,2,3,4]'
expect_grep "--show-headers: headers on stderr" '^content-type: ' "$tmp/err"

run "${V2[@]}" -H 'X-Request-Tag: cli test' -H 'X-Empty:' --bearer secret-token \
  --timeout 10 --retries 1 infer "$URL" echo -d "$BODY"
expect_json "-H, --bearer, --timeout, --retries" 'flat(out("output-0")["data"])' '[1,2,3,4]'
run "${V2[@]}" --basic user:pass live "$URL"; expect "--basic" 0 true

# ---- infer with -i ---------------------------------------------------------------
run "${V2[@]}" infer "$URL" echo -i x:INT32:2x2:1,2,3,4
expect_json "-i INT32 2x2" 'flat(out("output-0")["data"])' '[1,2,3,4]'
expect_json "-i INT32 2x2: shape" 'out("output-0")["shape"]' '[2,2]'

run "${V2[@]}" --id cli-7 infer "$URL" echo -i 'a:FP32::1.5,-2,0.25' \
  -i b:BOOL::true,false -i 's:BYTES::hello,wo\,rld' -i u:uint8:1x3:0,7,255
expect_json "-i FP32" 'flat(out("output-0")["data"])' '[1.5,-2,0.25]'
expect_json "-i BOOL" 'flat(out("output-1")["data"])' '[true,false]'
expect_json "-i BYTES" 'flat(out("output-2")["data"])' '["hello","wo,rld"]'
expect_json "-i UINT8" 'flat(out("output-3")["data"])' '[0,7,255]'
expect_json "--id" 'd["id"]' '"cli-7"'

for h2 in "" --http2; do
  run "${V2[@]}" $h2 --binary infer "$URL" echo -i x:INT32:2x2:1,2,3,-4 \
    -i s:BYTES::a,bc -i f:FP64::0.1,1e300 -i h:FP16::1.5,-2
  expect_json "--binary $h2: INT32" 'out("output-0")["data"]' '[1,2,3,-4]'
  expect_json "--binary $h2: shape" 'out("output-0")["shape"]' '[2,2]'
  expect_json "--binary $h2: BYTES" 'out("output-1")["data"]' '["a","bc"]'
  expect_json "--binary $h2: FP64" 'out("output-2")["data"]' '[0.1,1e300]'
  expect_json "--binary $h2: FP16" 'out("output-3")["data"]' '[1.5,-2]'
done


# FP32 extremes: FLT_MAX's shortest text reads as a double just above it
run "${V2[@]}" --binary infer "$URL" echo -i 'm:FP32::3.4028235e+38,-3.4028235e+38,1.1754944e-38'
expect_json "-i FP32 extremes" 'flat(out("output-0")["data"])' '[3.4028235e+38,-3.4028235e+38,1.1754944e-38]'
run "${V2[@]}" infer "$URL" echo -i 'm:FP32::3.5e+38'
expect_err "-i FP32 beyond range" 2 "not a valid FP32"

run "${V2[@]}" infer "$URL" add_sub -i INPUT0:INT32:4:1,2,3,4 -i INPUT1:INT32:4:1,1,1,1
expect_json "add_sub sum" 'flat(out("OUTPUT0")["data"])' '[2,3,4,5]'
expect_json "add_sub difference" 'flat(out("OUTPUT1")["data"])' '[0,1,2,3]'
run "${V2[@]}" --binary --output OUTPUT1 infer "$URL" add_sub \
  -i INPUT0:FP32:2:1.5,2 -i INPUT1:FP32:2:0.5,4
expect_json "add_sub --output OUTPUT1 --binary" '[o["name"] for o in d["outputs"]]' '["OUTPUT1"]'
expect_json "add_sub FP32 difference" 'out("OUTPUT1")["data"]' '[1,-2]'

# ---- v1 ------------------------------------------------------------------------
run infer "$URL" echo -d '{"instances":[[1,2],[3,4]]}'
expect_json "v1 predict" 'd["predictions"]' '[[1,2],[3,4]]'
run infer "$URL" echo -i x:INT32:2x2:1,2,3,4
expect_json "v1 predict with -i" 'd["predictions"]' '[[1,2],[3,4]]'
run explain "$URL" echo -d '{"instances":[1,2]}'
expect_json "v1 explain" 'd["predictions"]' '[1,2]'
run "${V2[@]}" explain "$URL" echo -d '{"instances":[1,2]}'
expect "v2 explain unsupported" 6

# ---- transport -----------------------------------------------------------------
start_server h1 --h1-only
run "${V2[@]}" --http2 --verbose infer "http://127.0.0.1:$port" echo -d "$BODY"
expect_json "--http2 falls back to HTTP/1.1" 'flat(out("output-0")["data"])' '[1,2,3,4]'
expect_grep "--http2 fallback logged" 'HTTP/1\.1' "$tmp/err"

start_server slow --delay-ms 3000
run "${V2[@]}" --timeout 0.3 infer "http://127.0.0.1:$port" echo -d "$BODY"
expect_err "--timeout expires" 4 "kinfer: "

# TLS: a self-signed certificate for 127.0.0.1, trusted as a file and as a
# hashed directory; the key also kept encrypted for --key-password.
mkdir "$tmp/ca"
if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
     -keyout "$tmp/key.pem" -out "$tmp/ca/cert.pem" -days 2 -subj /CN=localhost \
     -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1 &&
   openssl rehash "$tmp/ca" >/dev/null 2>&1 &&
   openssl pkey -in "$tmp/key.pem" -aes256 -passout pass:s3cret \
     -out "$tmp/key-enc.pem" >/dev/null 2>&1; then
  cert=$tmp/ca/cert.pem
  start_server tls --tls-cert "$cert" --tls-key "$tmp/key.pem"
  TLS=https://127.0.0.1:$port
  run "${V2[@]}" --cacert "$cert" live "$TLS";    expect "TLS --cacert" 0 true
  run "${V2[@]}" --capath "$tmp/ca" live "$TLS";  expect "TLS --capath" 0 true
  run "${V2[@]}" live "$TLS";                     expect_err "TLS untrusted" 4 "kinfer: "
  run "${V2[@]}" --insecure live "$TLS";          expect "TLS --insecure" 0 true
  run "${V2[@]}" -k live "$TLS";                  expect "TLS -k" 0 true
  run "${V2[@]}" --cacert "$cert" --http2 --verbose infer "$TLS" echo -d "$BODY"
  expect_json "TLS HTTP/2 infer" 'flat(out("output-0")["data"])' '[1,2,3,4]'
  expect_grep "TLS HTTP/2 by ALPN" 'HTTP/2|h2' "$tmp/err"
  run "${V2[@]}" --cacert "$cert" --cert "$cert" --key "$tmp/key.pem" live "$TLS"
  expect "--cert, --key" 0 true
  run "${V2[@]}" --cacert "$cert" --cert "$cert" --key "$tmp/key-enc.pem" \
    --key-password s3cret live "$TLS"
  expect "--key-password" 0 true
  run "${V2[@]}" --cacert "$cert" --cert "$cert" --key "$tmp/key-enc.pem" \
    --key-password wrong live "$TLS"
  if [[ $rc -ne 0 && $rc -ne 2 ]] && grep -q "kinfer: " "$tmp/err"; then
    pass
  else
    fail "wrong --key-password" "expected a reported failure"
  fi
else
  echo "SKIP: TLS checks (openssl could not make a certificate)"
fi

# ---- errors --------------------------------------------------------------------
run "${V2[@]}" infer "$URL" nope -d "$BODY"
expect_err "unknown model" 3 "Model with name nope does not exist."
expect_grep "unknown model: status" '404' "$tmp/err"
run model-ready "$URL" nope
expect_err "v1 model-ready unknown model" 3 "Model with name nope does not exist."
run "${V2[@]}" live "127.0.0.1:$port";       expect_err "URL without scheme" 6 "kinfer: "
run "${V2[@]}" --retries 0 --timeout 5 live "http://127.0.0.1:$closed_port"
expect_err "connection refused" 4 "kinfer: "
run "${V2[@]}" --retries 0 infer "http://127.0.0.1:$closed_port" echo -d "$BODY"
expect_err "connection refused (infer)" 4 "kinfer: "
run "${V2[@]}" infer "$URL" echo -d '[1,2]'; expect_err "-d not an object" 6 "kinfer: "
run "${V2[@]}" infer "$URL" echo -i h:FP16::1.5
expect_err "FP16 needs --binary" 6 "kinfer: "

# ---- usage ---------------------------------------------------------------------
usage() { # NAME ARGS...: a usage error (exit 2, message, nothing on stdout)
  local name=$1
  shift
  run "$@"
  expect_err "usage: $name" 2 "kinfer: "
}
usage "no arguments"
usage "unknown command"     frobnicate "$URL"
usage "missing URL"         live
usage "missing MODEL"       infer "$URL" -d "$BODY"
usage "extra operand"       live "$URL" extra
usage "unknown option"      --frobnicate live "$URL"
usage "missing option arg"  live "$URL" --timeout
usage "bad --timeout"       --timeout soon live "$URL"
usage "negative --timeout"  --timeout -1 live "$URL"
usage "bad --retries"       --retries 3x live "$URL"
usage "--retries range"     --retries 1000 live "$URL"
usage "bad --protocol"      --protocol v3 live "$URL"
usage "no request"          infer "$URL" echo
usage "-d and -i"           infer "$URL" echo -d "$BODY" -i x:INT32:1:1
usage "-i count vs shape"   infer "$URL" echo -i x:INT32:2x2:1,2,3
usage "-i bad dtype"        infer "$URL" echo -i x:INT33:1:1
usage "-i bad shape"        infer "$URL" echo -i x:INT32:2by2:1,2,3,4
usage "-i bad value"        infer "$URL" echo -i x:INT32:2:1,two
usage "-i out of range"     infer "$URL" echo -i x:INT8:1:300
usage "-i bad bool"         infer "$URL" echo -i x:BOOL:1:maybe
usage "-i no fields"        infer "$URL" echo -i x
usage "-H without colon"    -H NoColon live "$URL"
usage "--key without --cert" --key k.pem live "$URL"
usage "--binary with -d"    --binary infer "$URL" echo -d "$BODY"
usage "body on health call" live "$URL" -d "$BODY"

# ---- help and version ----------------------------------------------------------
run --help
expect "--help" 0
missing=
for opt in --protocol --http2 --timeout --retries -H --header --bearer --basic \
  -d --data -i --input --binary --output --id --graph --pretty --cacert \
  --capath --cert --key --key-password --insecure --unix-socket \
  --show-headers --verbose --version --help; do
  grep -qE -- "(^|[ ,])$opt([ ,=]|$)" "$tmp/out" || missing="$missing $opt"
done
if [[ -z $missing ]]; then pass; else fail "--help mentions every option" "missing:$missing"; fi
expect_grep "--help documents exit status" 'exit status' "$tmp/out"

run --version
expect "--version" 0
expect_grep "--version prints the version" '^kinfer [0-9]+\.[0-9]+\.[0-9]+' "$tmp/out"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
