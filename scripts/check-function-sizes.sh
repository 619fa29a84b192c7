#!/usr/bin/env bash
# CI: builds three representative function binaries in release and fails when one, stripped,
# exceeds its size budget (docs/deploy.md, "Build"). A binary that grows past its budget has
# started to reach what it does not serve: the table of every operation
# (tessera_wire::dispatch), or AWS clients its flags in functions/operations.txt do not name.
#
#   get-user        token-only, no optional client (the issue's budget: 8 MB)
#   sign-up         sends and triggers: SES, SNS, Lambda
#   update-records  Sync, triggers and push: the most clients an operation has (Lambda, SNS)
#
#   bash scripts/check-function-sizes.sh        # native release build (CI)
#   PROFILE=dev bash scripts/check-function-sizes.sh   # the test build's profile: quicker, budgets of its own
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE="${PROFILE:-release}"

# Budgets in bytes, stripped, per profile. release: measured + ~15 % headroom (docs/deploy.md);
# dev: the same binaries in the test profile (dependencies at opt-level 2, ours unoptimised).
declare -A BUDGET
if [ "$PROFILE" = release ]; then
  BUDGET=([get-user]=8000000 [sign-up]=12500000 [update-records]=12500000)
else
  BUDGET=([get-user]=40000000 [sign-up]=48000000 [update-records]=48000000)
fi

bins=(get-user sign-up update-records)
args=()
for b in "${bins[@]}"; do args+=(--bin "$b"); done
start=$(date +%s)
cargo build --profile "$PROFILE" -p tessera-functions "${args[@]}"
dir=target/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")
echo "built in $(( $(date +%s) - start )) s ($PROFILE)"
# Stripped copies, as a deployment ships them (the profile keeps symbols for backtraces).
mkdir -p target/function-sizes

failed=0
# The cause, by name: no binary reaches the table of every operation, and get-user (no flags)
# links no SES, SNS, Lambda, S3 or STS client.
if nm -C "$dir/get-user" "$dir/sign-up" "$dir/update-records" 2>/dev/null | grep -q 'tessera_wire::dispatch::call_service'; then
  echo "a function binary reaches the operation table (tessera_wire::dispatch::call_service)" >&2; failed=1
fi
if nm -C "$dir/get-user" 2>/dev/null | grep -qE 'aws_sdk_(ses|sns|lambda|s3)::'; then
  echo "get-user links an AWS client its flags do not name" >&2; failed=1
fi
for b in "${bins[@]}"; do
  strip -o "target/function-sizes/$b" "$dir/$b"
  size=$(stat -c %s "target/function-sizes/$b")
  budget=${BUDGET[$b]}
  verdict=ok
  if [ "$size" -gt "$budget" ]; then verdict="OVER BUDGET"; failed=1; fi
  printf '%-16s %6.1f MB stripped (budget %5.1f MB) %s\n' "$b" "$(awk -v s="$size" 'BEGIN{print s/1e6}')" \
    "$(awk -v s="$budget" 'BEGIN{print s/1e6}')" "$verdict"
done
if [ "$failed" = 1 ]; then
  echo "a function binary exceeds its size budget: does it reach the operation table or an AWS client it does not use?" >&2
  exit 1
fi
