# Shared by the shell integration tests (sourced, not run): a temporary
# directory, kinfer-server instances on free loopback ports, and cleanup.
#
#   SERVER=/path/to/kinfer-server
#   source "$(dirname "$0")/testlib.bash"
#   test_init NAME            # sets $tmp; servers and $tmp go at exit
#   start_server main [ARGS]  # sets $port

test_init() {
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/kinfer-$1.XXXXXX")
  server_pids=()
  trap test_cleanup EXIT
}

test_cleanup() {
  local pid
  for pid in "${server_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}

# start_server NAME ARGS...: starts kinfer-server on a free loopback port
# with ARGS and sets $port to that port.
start_server() {
  local name=$1 pid
  shift
  "$SERVER" --listen 127.0.0.1:0 --port-file "$tmp/$name.port" --quiet "$@" \
    >"$tmp/$name.log" 2>&1 &
  pid=$!
  server_pids+=("$pid")
  for _ in $(seq 200); do
    [[ -s $tmp/$name.port ]] && break
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "kinfer-server ($name) exited:" >&2
      cat "$tmp/$name.log" >&2
      exit 1
    fi
    sleep 0.05
  done
  port=$(tr -dc '0-9' <"$tmp/$name.port")
  if [[ -z $port ]]; then
    echo "kinfer-server ($name) did not write its port" >&2
    exit 1
  fi
}
