#!/usr/bin/env bash
# Runs moto's own Cognito test suites (tests/test_cognitoidp, tests/test_cognitoidentity) in moto's
# server mode against `tessera serve`, and lists which of moto's AWS-verified tests fail.
# Most failures are moto-only expectations (any code accepted, no SECRET_HASH, IAM/STS calls) or
# features not built yet; an AWS-verified test that fails is worth a look.
#
#   bash tools/moto-suite.sh <path to a moto checkout> [pytest args...]
#
# Needs: a debug build of `tessera` (cargo build -p tessera-local) and the venv of .ci/run
# (.venv with moto); installs pytest, pycognito, pyotp and freezegun into it.
set -euo pipefail
moto_src=${1:?usage: tools/moto-suite.sh <moto checkout> [pytest args]}
shift
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
port=${TESSERA_MOTO_SUITE_PORT:-9331}
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
"$root/.venv/bin/pip" install -q pytest pycognito pyotp freezegun
mkdir -p "$work/tests"
cp -r "$moto_src"/tests/{__init__.py,markers.py,conftest.py,test_cognitoidp,test_cognitoidentity} "$work/tests/"
TESSERA_ADMIN_ACCESS_KEY_ID=FOOBARKEY TESSERA_ADMIN_SECRET_ACCESS_KEY=FOOBARSECRET \
  "$root/target/debug/tessera" serve --bind "127.0.0.1:$port" --data-dir "$work/data" \
  --key-file "$work/data.key" --throttle off >"$work/serve.log" 2>&1 &
server=$!
sleep 2
cd "$work"
TEST_SERVER_MODE=true TEST_SERVER_MODE_ENDPOINT="http://127.0.0.1:$port" AWS_DEFAULT_REGION=us-east-1 \
  "$root/.venv/bin/python" -m pytest -q -p no:cacheprovider -rf \
  tests/test_cognitoidp/test_cognitoidp.py tests/test_cognitoidentity/test_cognitoidentity.py "$@" \
  >"$work/result.txt" 2>&1 || true
tail -1 "$work/result.txt"
python3 - "$work" <<'PY'
import re, sys
work = sys.argv[1]
txt = open(f"{work}/result.txt").read()
fails = {m.group(1) + "::" + m.group(2) for m in re.finditer(r"FAILED tests/(\S+?)::(\w+)", txt)}
for f in ["test_cognitoidp/test_cognitoidp.py", "test_cognitoidentity/test_cognitoidentity.py"]:
    src = open(f"{work}/tests/{f}").read()
    for m in re.finditer(r"@pytest\.mark\.aws_verified\n(?:@[^\n]*\n|[^\n]*\)\n|\s+[^\n]*\n)*?def (\w+)", src):
        print("AWS-verified", "FAIL" if f"{f}::{m.group(1)}" in fails else "pass", m.group(1))
PY
