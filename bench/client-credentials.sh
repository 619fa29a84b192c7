#!/usr/bin/env bash
# The client_credentials grant under wrk (-t2 -c16): requests/s, latency percentiles and the
# server's CPU per grant. See docs/benchmarks.md (d).
#
#   bash bench/client-credentials.sh            (DURATION=20s; SKIP_BUILD=1 to reuse the build)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/bench
DURATION=${DURATION:-20s}
WORK=$(mktemp -d /tmp/tessera-m2m.XXXXXX)
mkdir -p "$OUT"
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
command -v wrk > /dev/null || apt-get install -y wrk > /dev/null
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release -p tessera-local -p tessera-bench
fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
TESSERA_THROTTLE=off "$ROOT/target/release/tessera" serve --bind "127.0.0.1:$PORT" --data-dir "$WORK/data" \
  --key-file "$WORK/key" > "$WORK/server.log" 2>&1 &
PID=$!
"$ROOT/target/release/tessera-bench" m2m-client --endpoint "http://127.0.0.1:$PORT" --out "$WORK/m2m.txt"
M2M_FILE=$WORK/m2m.txt wrk -t2 -c16 -d3s -s bench/client-credentials.lua "http://127.0.0.1:$PORT/" > /dev/null
c0=$(awk '{print $14 + $15}' "/proc/$PID/stat")
M2M_FILE=$WORK/m2m.txt wrk -t2 -c16 -d"$DURATION" --latency -s bench/client-credentials.lua \
  "http://127.0.0.1:$PORT/" | tee "$OUT/wrk-client-credentials.txt"
c1=$(awk '{print $14 + $15}' "/proc/$PID/stat")
reqs=$(sed -n 's/^WRK_RESULT requests=\([0-9]*\).*/\1/p' "$OUT/wrk-client-credentials.txt")
awk -v c0="$c0" -v c1="$c1" -v t="$(getconf CLK_TCK)" -v n="$reqs" \
  'BEGIN { printf "SERVER_CPU cpu_s=%.2f us_per_grant=%.1f\n", (c1-c0)/t, (c1-c0)/t*1e6/n }' \
  | tee -a "$OUT/wrk-client-credentials.txt"
