#!/usr/bin/env bash
# Runs the whole test suite: installs what is needed, then builds with
# warnings as errors and runs every test in a normal build and in an
# AddressSanitizer + UndefinedBehaviorSanitizer build, the threaded tests in a
# ThreadSanitizer build, and the integration tests' clients under valgrind.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
jobs=$(nproc)

"$top/tools/scripts/deps.sh" --test

run_suite() { # name, ctest selection ("" = all), extra cmake args...
  local name=$1 select=$2; shift 2
  local build="$top/build-test-$name"
  echo "=== $name build ==="
  cmake -S "$top" -B "$build" -DKINFER_WERROR=ON "$@" >/dev/null
  cmake --build "$build" -j"$jobs"
  echo "=== $name tests ==="
  # shellcheck disable=SC2086
  (cd "$build" && ctest --output-on-failure -j"$jobs" -LE exhaustive $select)
}

run_suite release "" -DCMAKE_BUILD_TYPE=RelWithDebInfo
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite asan "" -DCMAKE_BUILD_TYPE=Debug -DKINFER_SANITIZE=address,undefined
# ThreadSanitizer on the tests that share clients between threads.
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  run_suite tsan "-R (it_basic|it_async|it_conn|it_retry|it_threads|it_gateway|it_tls|it_h1peer|it_h2peer|check_session)" \
  -DCMAKE_BUILD_TYPE=Debug -DKINFER_SANITIZE=thread -DKINFER_BUILD_EXAMPLES=OFF
# Every float32 bit pattern printed and parsed back (minutes, both cores).
echo "=== exhaustive float32 round trip ==="
(cd "$top/build-test-release" && ctest --output-on-failure -L exhaustive)

# valgrind memcheck on the client side of the integration tests (those
# without tight timing, which valgrind's slowdown would distort).
echo "=== valgrind ==="
rel="$top/build-test-release"
for t in it_basic it_async it_logging it_parity; do
  KINFER_SERVER="$rel/kinfer-server" KINFER_SOURCE_DIR="$top" CK_FORK=no \
    valgrind -q --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect "$rel/tests/$t"
done
echo "=== all suites passed ==="
