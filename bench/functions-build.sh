#!/usr/bin/env bash
# The function binaries' release build, as `sam build` makes it (docs/benchmarks.md, "Function
# binaries"): the full build of every function from a clean target directory, the rebuild after
# a one-line change in the domain (shared/core), each binary's size stripped, and the cold start
# of GetUser and SignUp (process start to first answer, against moto).
#
#   bash bench/functions-build.sh              # arm64, as sam build (cargo lambda build --release --arm64)
#   ARCH=native bash bench/functions-build.sh  # the host's architecture (cargo build --release)
#
# Environment: ARCH=arm64|native, TARGET_DIR (default target/functions-bench-$ARCH; removed first
# unless KEEP_TARGET=1), SKIP_BUILD=1, SKIP_REBUILD=1, SKIP_COLDSTART=1, COLD_RUNS (default 5),
# PYTHON (with moto[server], default .venv/bin/python). Results: $TARGET_DIR/../functions-bench-$ARCH.txt.
# arm64 needs cargo-lambda (`pip install cargo-lambda`, brings zig) and
# `rustup target add aarch64-unknown-linux-gnu`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ARCH="${ARCH:-arm64}"
TARGET_DIR="${TARGET_DIR:-$ROOT/target/functions-bench-$ARCH}"
OUT="${OUT:-$ROOT/target/functions-bench-$ARCH.txt}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
export CARGO_TARGET_DIR="$TARGET_DIR" CARGO_TERM_COLOR=never
# The figures are for stripped binaries (what a deployment would ship): link them stripped.
export CARGO_PROFILE_RELEASE_STRIP=symbols

log() { echo "$*" | tee -a "$OUT"; }
machine() { log "  load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, $(rustc --version)"; }

if [ "$ARCH" = arm64 ]; then
  build() { (cd functions && cargo lambda build --release --arm64 "$@"); }
  bin_path() { echo "$TARGET_DIR/lambda/$1/bootstrap"; }
else
  build() { cargo build --release -p tessera-functions "$@"; }
  bin_path() { echo "$TARGET_DIR/release/$1"; }
fi

: >"$OUT"
log "functions build benchmark, $ARCH, commit $(git rev-parse --short HEAD), $(date -u +%FT%TZ)"
machine

if [ -z "${SKIP_BUILD:-}" ]; then
  [ -n "${KEEP_TARGET:-}" ] || rm -rf "$TARGET_DIR"
  start=$(date +%s)
  build >"$TARGET_DIR.build.log" 2>&1 || { tail -30 "$TARGET_DIR.build.log"; exit 1; }
  secs=$(( $(date +%s) - start ))
  log "full build of every function: ${secs} s ($(( secs / 60 )) min $(( secs % 60 )) s)"
  machine
fi

if [ -z "${SKIP_REBUILD:-}" ]; then
  # A one-line change in the domain: every crate above it and every binary are rebuilt.
  probe=shared/core/src/ops/users.rs
  cp "$probe" "$TARGET_DIR.probe"
  trap 'cp "$TARGET_DIR.probe" "$ROOT/$probe"' EXIT
  echo "// rebuild probe $(date +%s)" >>"$probe"
  start=$(date +%s)
  build >"$TARGET_DIR.rebuild.log" 2>&1 || { tail -30 "$TARGET_DIR.rebuild.log"; exit 1; }
  secs=$(( $(date +%s) - start ))
  cp "$TARGET_DIR.probe" "$probe"
  trap - EXIT
  log "rebuild after a one-line change in shared/core: ${secs} s ($(( secs / 60 )) min $(( secs % 60 )) s)"
  machine
fi

# Sizes, stripped, in MB (10^6 bytes): GetUser and SignUp, then all binaries' spread.
names=$(sed -n 's/^name = "\(.*\)"$/\1/p' functions/Cargo.toml)
sizes=$(for n in $names; do p=$(bin_path "$n"); [ -f "$p" ] && echo "$(stat -c %s "$p") $n"; done | sort -n)
count=$(echo "$sizes" | grep -c . || true)
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
for n in get-user sign-up; do
  p=$(bin_path "$n"); [ -f "$p" ] && log "size $n: $(mb "$(stat -c %s "$p")") MB stripped"
done
if [ "$count" -gt 0 ]; then
  log "sizes of $count binaries: smallest $(mb "$(echo "$sizes" | head -1 | cut -d' ' -f1)") MB ($(echo "$sizes" | head -1 | cut -d' ' -f2)), median $(mb "$(echo "$sizes" | sed -n "$(( (count + 1) / 2 ))p" | cut -d' ' -f1)") MB, largest $(mb "$(echo "$sizes" | tail -1 | cut -d' ' -f1)") MB ($(echo "$sizes" | tail -1 | cut -d' ' -f2))"
fi

# Cold start: native binaries only (this machine cannot run arm64 ones).
if [ -z "${SKIP_COLDSTART:-}" ]; then
  if [ "$ARCH" != native ]; then
    log "cold start: measured on native binaries (ARCH=native); skipped for $ARCH"
  else
    "$PYTHON" bench/coldstart.py --runs "${COLD_RUNS:-5}" \
      --get-user "$(bin_path get-user)" --sign-up "$(bin_path sign-up)" | tee -a "$OUT"
  fi
fi
echo "results: $OUT"
