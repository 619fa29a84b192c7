#!/usr/bin/env bash
# Tessera's benchmarks, end to end (see docs/benchmarks.md):
#   (a) SignUp + AdminConfirmSignUp, then InitiateAuth (USER_PASSWORD_AUTH), 8 concurrent
#       clients, 300 and 2000 users; server CPU per InitiateAuth against one argon2id verify;
#       the server's RSS before, at its peak (VmHWM) and at the end (password hashing's memory
#       is bounded: one 19 MiB argon2 buffer per hash that can run at once).
#   (b) GetUser under wrk (-t2 -c16, 20 s) against Tessera, then against cognito-local.
#   (c) the pieces the profiles point at (RS256 sign and verify, argon2 memory), timed alone.
# Everything listens on 127.0.0.1 only; every load run is bounded in time.
#
#   bash bench/run.sh
#
# Environment: DURATION (wrk run, default 20s), USERS (default "300 2000"),
# COGNITO_LOCAL_DIR (where `npm install cognito-local` goes, default target/bench/cognito-local),
# SKIP_BUILD=1, SKIP_SIGNIN=1, SKIP_COGNITO_LOCAL=1, SKIP_IMPORT=1, IMPORT_ROWS (default 100000),
# TESSERA_THROTTLE (the servers' request quotas, default off).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/bench
DURATION=${DURATION:-20s}
USERS=${USERS:-300 2000}
CL_DIR=${COGNITO_LOCAL_DIR:-$OUT/cognito-local}
BENCH=$ROOT/target/release/tessera-bench
SERVER=$ROOT/target/release/tessera
WORK=$(mktemp -d /tmp/tessera-bench.XXXXXX)
mkdir -p "$OUT"

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

log() { printf '\n==> %s\n' "$*"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# utime+stime of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

# rss_watch BENCH_PID TEXT OUT: follows the `tessera` server that `tessera-bench signin`
# (BENCH_PID) spawns, sampling /proc/<server>/status until the server exits. The bench prints
# "server pid N" to TEXT once the server answers and its pool is made, right before the first
# sign-up: the last sample taken before that line appears is the baseline (nothing hashed yet).
# OUT gets one line `SERVER_RSS …` (KiB): the baseline, VmHWM (the kernel's peak RSS, so
# nothing between samples is missed), the largest VmRSS sampled, and the last one (the end of
# the sign-in phase: the bench stops the server right after it).
rss_watch() {
  local bench=$1 text=$2 out=$3 pid="" line before="" ready="" last="" max=0 hwm="" samples=0
  while kill -0 "$bench" 2>/dev/null; do
    pid=$(pgrep -P "$bench" -x tessera | head -1 || true)
    [ -n "$pid" ] && break
    sleep 0.02
  done
  if [ -z "$pid" ]; then
    echo "SERVER_RSS unavailable (no server process)" > "$out"
    return 0
  fi
  # A zombie (killed, not yet reaped) has no VmRSS line: that ends the watch too.
  while line=$(awk '/^VmRSS:/ {r=$2} /^VmHWM:/ {h=$2} END {if (r != "") print r, h}' "/proc/$pid/status" 2>/dev/null) \
      && [ -n "$line" ]; do
    set -- $line
    if [ -z "$ready" ]; then
      if grep -q '^server pid ' "$text" 2>/dev/null; then
        ready=1
      else
        before=$1
        sleep 0.02
        continue
      fi
    fi
    last=$1 hwm=$2 samples=$((samples + 1))
    [ "$1" -gt "$max" ] && max=$1
    sleep 0.1
  done
  echo "SERVER_RSS pid=$pid baseline_kib=${before:-0} peak_hwm_kib=$hwm max_sampled_kib=$max end_kib=$last samples=$samples" > "$out"
}

wait_port() {
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$1" >&2
  return 1
}

# wrk_getuser NAME PID URL TOKEN_FILE: a 3 s warm-up, then the measured run; server CPU per request.
wrk_getuser() {
  local name=$1 pid=$2 url=$3 token=$4
  TOKEN_FILE=$token wrk -t2 -c16 -d3s -s bench/getuser.lua "$url/" > /dev/null
  local c0 c1 wrk_cpu
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  c0=$(cpu_ticks "$pid")
  { TIMEFORMAT='%U %S'; time TOKEN_FILE=$token wrk -t2 -c16 -d"$DURATION" --latency -s bench/getuser.lua "$url/" \
      > "$OUT/wrk-$name.txt"; } 2> "$WORK/wrk-time"
  c1=$(cpu_ticks "$pid")
  cat "$OUT/wrk-$name.txt"
  wrk_cpu=$(awk '{print $1 + $2}' "$WORK/wrk-time")
  local reqs
  reqs=$(sed -n 's/^WRK_RESULT requests=\([0-9]*\).*/\1/p' "$OUT/wrk-$name.txt")
  awk -v c0="$c0" -v c1="$c1" -v t="$CLK_TCK" -v n="$reqs" -v name="$name" -v w="$wrk_cpu" \
    'BEGIN { printf "SERVER_CPU %s cpu_s=%.2f us_per_request=%.1f wrk_cpu_s=%.2f wrk_us_per_request=%.1f\n",
             name, (c1-c0)/t, (c1-c0)/t*1e6/n, w, w*1e6/n }' \
    | tee -a "$OUT/wrk-$name.txt"
}

log "machine"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') x $(nproc)"
  echo "memory: $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "kernel: $(uname -sr)"
  echo "rustc: $(rustc --version)"
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/machine.txt"

if ! command -v wrk > /dev/null; then
  log "installing wrk"
  apt-get install -y wrk > /dev/null || { apt-get update > /dev/null && apt-get install -y wrk > /dev/null; }
fi

if [ -z "${SKIP_BUILD:-}" ]; then
  log "release build"
  cargo build --release -p tessera-bench -p tessera-local
fi

# The request quotas (docs/security-throttle.md) would refuse the benchmarks' own bursts (2000
# sign-ups at 8 clients got TooManyRequestsException, and the SDK's retries showed as a 2 s p99):
# they are not what is measured. The spawned servers inherit this.
export TESSERA_THROTTLE=${TESSERA_THROTTLE:-off}
export TESSERA_ADMIN_ACCESS_KEY_ID=${TESSERA_ADMIN_ACCESS_KEY_ID:-AKIATESSERABENCH0001}
export TESSERA_ADMIN_SECRET_ACCESS_KEY=${TESSERA_ADMIN_SECRET_ACCESS_KEY:-tessera-bench-secret}

if [ -z "${SKIP_SIGNIN:-}" ]; then
  : > "$OUT/signin.jsonl"
  : > "$OUT/rss-signin.txt"
  for n in $USERS; do
    log "(a) sign-up and sign-in, $n users, 8 concurrent clients"
    rm -f "$OUT/signin-$n.txt"
    "$BENCH" signin --users "$n" --concurrency 8 --server "$SERVER" --json "$OUT/signin.jsonl" \
      > >(tee "$OUT/signin-$n.txt") &
    BPID=$!
    rss_watch "$BPID" "$OUT/signin-$n.txt" "$WORK/rss-$n" &
    WATCH=$!
    PIDS+=("$BPID" "$WATCH")
    status=0
    wait "$BPID" || status=$?
    wait "$WATCH" || true
    echo "users=$n $(cat "$WORK/rss-$n")" | tee -a "$OUT/rss-signin.txt"
    [ "$status" = 0 ] || { echo "tessera-bench signin failed (exit $status)" >&2; exit "$status"; }
  done
fi

log "the pieces a sign-in and a GetUser spend time on, alone"
"$BENCH" micro | tee "$OUT/micro.txt"

if [ -z "${SKIP_IMPORT:-}" ]; then
  log "(c) CSV user import: ${IMPORT_ROWS:-100000} rows"
  "$BENCH" import --rows "${IMPORT_ROWS:-100000}" --server "$SERVER" | tee "$OUT/import.txt"
fi

log "(b) GetUser under wrk: Tessera"
PORT=$(free_port)
"$SERVER" serve --bind "127.0.0.1:$PORT" --data-dir "$WORK/tessera-data" > "$WORK/tessera.log" 2>&1 &
TPID=$!
PIDS+=("$TPID")
wait_port "$PORT"
"$BENCH" token --endpoint "http://127.0.0.1:$PORT" --out "$WORK/tessera.token"
wrk_getuser tessera "$TPID" "http://127.0.0.1:$PORT" "$WORK/tessera.token"
kill "$TPID"; wait "$TPID" 2>/dev/null || true

if [ -z "${SKIP_COGNITO_LOCAL:-}" ]; then
  log "(b) GetUser under wrk: cognito-local"
  if [ ! -f "$CL_DIR/node_modules/cognito-local/package.json" ]; then
    mkdir -p "$CL_DIR"
    (cd "$CL_DIR" && npm install --no-audit --no-fund --loglevel=error cognito-local > /dev/null)
  fi
  CL_VERSION=$(node -p "require('$CL_DIR/node_modules/cognito-local/package.json').version")
  echo "cognito-local $CL_VERSION, node $(node --version)" | tee "$OUT/cognito-local-version.txt"
  CL_RUN=$WORK/cognito-local-run   # its data lives in ./.cognito of its working directory
  mkdir -p "$CL_RUN"
  CPORT=$(free_port)
  (cd "$CL_RUN" && HOST=127.0.0.1 PORT=$CPORT exec node "$CL_DIR/node_modules/cognito-local/lib/bin/start.js") \
    > "$WORK/cognito-local.log" 2>&1 &
  CPID=$!
  PIDS+=("$CPID")
  wait_port "$CPORT"
  "$BENCH" token --endpoint "http://127.0.0.1:$CPORT" --out "$WORK/cognito-local.token"
  wrk_getuser cognito-local "$CPID" "http://127.0.0.1:$CPORT" "$WORK/cognito-local.token"
  kill "$CPID"; wait "$CPID" 2>/dev/null || true
fi

log "summary"
if [ -s "$OUT/signin.jsonl" ]; then
  python3 - "$OUT/signin.jsonl" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| users | SignUp+AdminConfirmSignUp users/s | InitiateAuth users/s | InitiateAuth p50 / p99 ms "
      "| server CPU per InitiateAuth ms | one verify, CPU ms | ratio | 2 verifies at once, CPU ms each | ratio |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    a, s, h = r["initiate_auth"], r["signup"], r["argon2"]
    print(f'| {r["users"]} | {s["users_per_s"]:.1f} | {a["users_per_s"]:.1f} | {a["p50_ms"]:.1f} / {a["p99_ms"]:.1f} '
          f'| {a["server_cpu_ms"]:.2f} | {h["verify_cpu_ms"]:.2f} | {r["ratio_cpu_per_auth_to_verify"]:.2f} '
          f'| {h["verify_cpu_ms_2_parallel"]:.2f} | {r["ratio_cpu_per_auth_to_parallel_verify_cpu"]:.2f} |')
h = rows[0]["argon2"]
print(f'argon2id m={h["m_kib"]} KiB, t={h["t"]}, p={h["p"]}')
EOF
fi
if [ -s "$OUT/rss-signin.txt" ]; then
  echo "| users | server RSS before | peak (VmHWM) | at the end | peak - before |"
  echo "|---|---|---|---|---|"
  sed -n 's/^users=\([0-9]*\) SERVER_RSS .*baseline_kib=\([0-9]*\) peak_hwm_kib=\([0-9]*\) .*end_kib=\([0-9]*\) .*/\1 \2 \3 \4/p' \
      "$OUT/rss-signin.txt" \
    | awk '{ printf "| %s | %.1f MiB | %.1f MiB | %.1f MiB | %.1f MiB |\n", $1, $2/1024, $3/1024, $4/1024, ($3-$2)/1024 }'
fi
for name in tessera cognito-local; do
  f=$OUT/wrk-$name.txt
  [ -f "$f" ] && echo "$name: $(grep -h '^WRK_RESULT\|^SERVER_CPU' "$f" | tr '\n' ' ')"
done
if [ -f "$OUT/wrk-tessera.txt" ] && [ -f "$OUT/wrk-cognito-local.txt" ]; then
  t=$(sed -n 's/.* rps=\([0-9.]*\).*/\1/p' "$OUT/wrk-tessera.txt")
  c=$(sed -n 's/.* rps=\([0-9.]*\).*/\1/p' "$OUT/wrk-cognito-local.txt")
  awk -v t="$t" -v c="$c" 'BEGIN { printf "GetUser throughput ratio Tessera / cognito-local = %.1fx\n", t/c }'
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "results in $OUT"
