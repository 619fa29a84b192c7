#!/usr/bin/env bash
# GetUser under wrk for two builds of the local server, one after the other, in rounds, so that a
# change in the code can be told from a change in the machine (run-to-run spread is ±10 %).
#
#   bash bench/getuser-ab.sh BEFORE_DIR AFTER_DIR [ROUNDS]
#
# Each DIR holds a release `tessera` and `tessera-bench` (e.g. target/release of two checkouts:
# `git worktree add /tmp/before <commit>` and `CARGO_TARGET_DIR=... cargo build --release -p
# tessera-local -p tessera-bench` there). Request quotas are off, as in bench/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
BEFORE=${1:?BEFORE_DIR}; AFTER=${2:?AFTER_DIR}; ROUNDS=${3:-3}
export TESSERA_THROTTLE=off
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
run() {
  local name=$1 dir=$2 port work pid
  port=$(free_port); work=$(mktemp -d /tmp/tessera-ab.XXXXXX)
  "$dir/tessera" serve --bind "127.0.0.1:$port" --data-dir "$work/data" > "$work/log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
  "$dir/tessera-bench" token --endpoint "http://127.0.0.1:$port" --out "$work/token" > /dev/null
  TOKEN_FILE=$work/token wrk -t2 -c16 -d10s --latency -s bench/getuser.lua "http://127.0.0.1:$port/" > "$work/wrk.txt"
  printf '%-6s %s req/s  p50 %s  p99 %s  non-2xx %s\n' "$name" \
    "$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")" "$(awk '$1=="50%" {print $2}' "$work/wrk.txt")" \
    "$(awk '$1=="99%" {print $2}' "$work/wrk.txt")" "$(grep -c Non-2xx "$work/wrk.txt" || true)"
  kill "$pid"; wait "$pid" 2>/dev/null || true; rm -rf "$work"
}
for round in $(seq "$ROUNDS"); do
  echo "round $round"
  run before "$BEFORE"
  run after "$AFTER"
done
