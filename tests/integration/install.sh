#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds two consumer
# programs against it, one with pkg-config and one with find_package(kinfer),
# and runs both against kinfer-server.
set -euo pipefail
: "${KINFER_BUILD_DIR:?}" "${KINFER_SERVER:?}"
tmp=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
pass=0 fail=0
check() { # description, command...
  local d=$1; shift
  if "$@"; then pass=$((pass + 1)); else echo "FAIL: $d" >&2; fail=$((fail + 1)); fi
}

san=()
[ -n "${KINFER_SANITIZE:-}" ] && san=(-fsanitize="$KINFER_SANITIZE")

cmake --install "$KINFER_BUILD_DIR" --prefix "$tmp/prefix" >/dev/null
libdir=$(ls -d "$tmp"/prefix/lib* | head -n1)
check "header installed" test -f "$tmp/prefix/include/kinfer/kinfer.h"
check "shared library has the major SONAME" \
  bash -c "objdump -p '$libdir/libkinfer.so' | grep -q 'SONAME *libkinfer.so.0'"
check "static library installed" test -f "$libdir/libkinfer.a"
check "tools installed" test -x "$tmp/prefix/bin/kinfer" -a -x "$tmp/prefix/bin/kinfer-server"
check "only kinfer_ symbols exported" \
  bash -c "! nm -D --defined-only '$libdir/libkinfer.so' | awk '\$2 ~ /[TDB]/ {print \$3}' | grep -v '^kinfer_' | grep -q ."

cat > "$tmp/consumer.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <kinfer/kinfer.h>
int main(int argc, char **argv) {
  kinfer_config *cfg = kinfer_config_new();
  kinfer_config_set_protocol(cfg, "v2");
  kinfer_client *c = kinfer_client_new(cfg, NULL);
  kinfer_config_free(cfg);
  int64_t shape[] = {3};
  int32_t a[] = {1, 2, 3}, b[] = {4, 5, 6};
  kinfer_request *r = kinfer_request_new();
  kinfer_input_set_data(kinfer_request_add_input(r, "INPUT0", KINFER_INT32, shape, 1), a, sizeof a);
  kinfer_input_set_data(kinfer_request_add_input(r, "INPUT1", KINFER_INT32, shape, 1), b, sizeof b);
  kinfer_response *out = NULL;
  kinfer_error err;
  int rc = kinfer_infer(c, argv[1], r, "add_sub", NULL, NULL, 0, 10, &out, &err);
  if (rc) { fprintf(stderr, "%s\n", err.message); return 1; }
  const int32_t *s = kinfer_tensor_data(kinfer_response_output_by_name(out, "OUTPUT0"));
  printf("%s %d %d %d\n", kinfer_version(), s[0], s[1], s[2]);
  kinfer_response_free(out);
  kinfer_request_free(r);
  kinfer_client_close(c);
  return argc > 2 && strcmp(argv[2], kinfer_version()) ? 1 : 0;
}
C

export PKG_CONFIG_PATH="$libdir/pkgconfig"
check "pkg-config knows kinfer" pkg-config --exists kinfer
# shellcheck disable=SC2046
check "pkg-config consumer builds" \
  cc "${san[@]}" -o "$tmp/consumer-pc" "$tmp/consumer.c" $(pkg-config --cflags --libs kinfer)

mkdir -p "$tmp/cm"
cp "$tmp/consumer.c" "$tmp/cm/consumer.c"
cat > "$tmp/cm/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.25)
project(consumer C)
find_package(kinfer CONFIG REQUIRED)
add_executable(consumer consumer.c)
target_compile_options(consumer PRIVATE ${san[*]})
target_link_options(consumer PRIVATE ${san[*]})
target_link_libraries(consumer PRIVATE kinfer::kinfer)
CM
check "find_package consumer configures" \
  cmake -S "$tmp/cm" -B "$tmp/cm/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_BUILD_TYPE=Debug -Wno-dev >/dev/null
check "find_package consumer builds" cmake --build "$tmp/cm/build" >/dev/null

"$KINFER_SERVER" --listen 127.0.0.1:0 --port-file "$tmp/port" &
server=$!
for _ in $(seq 500); do [ -s "$tmp/port" ] && break; sleep 0.02; done
url="http://127.0.0.1:$(cat "$tmp/port")"
version=$(grep -o '#define KINFER_VERSION "[^"]*"' "$tmp/prefix/include/kinfer/kinfer.h" | cut -d'"' -f2)
export LD_LIBRARY_PATH="$libdir"
check "pkg-config consumer calls the server" \
  bash -c "[ \"\$('$tmp/consumer-pc' '$url' '$version')\" = '$version 5 7 9' ]"
check "find_package consumer calls the server" \
  bash -c "[ \"\$('$tmp/cm/build/consumer' '$url' '$version')\" = '$version 5 7 9' ]"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
