#!/usr/bin/env bash
# The test command: installs what the tests need (moto's server for DynamoDB, boto3, the AWS CLI,
# PyJWT, pysaml2 for the SAML IdP) into ./.venv, starts moto on loopback, and runs every test
# against both stores. The SAML IdP signs with Debian's xmlsec1 (`apt-get install xmlsec1`).
set -euo pipefail
cd "$(dirname "$0")/.."

export AWS_EC2_METADATA_DISABLED=true
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_REGION="${AWS_REGION:-us-east-1}"

if ! .venv/bin/python -c 'import moto, boto3, jwt, awscli, cfnlint, samtranslator, authlib, requests, saml2' 2>/dev/null; then
  echo "== installing test tools into .venv (moto[server], boto3, awscli, pyjwt, cfn-lint, authlib, pysaml2)"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check 'moto[server]>=5,<6' boto3 awscli 'pyjwt[crypto]' cfn-lint aws-sam-translator authlib requests 'pysaml2==7.5.5'
fi
if ! command -v xmlsec1 >/dev/null 2>&1; then
  echo "== xmlsec1 not found: install Debian's xmlsec1, or the SAML tests (tests/e2e/federation_saml.rs) fail"
fi

# amazon-cognito-identity-js and amazon-cognito-js (with aws-sdk v2) for the JS client tests
# (tests/e2e/js_client.rs, tests/e2e/js_sync_client.rs), pinned by their lock.
if ! command -v npm >/dev/null 2>&1; then
  echo "== npm not found: install Node.js 18 or later, or the JS client tests (tests/e2e/js_client.rs, js_sync_client.rs) fail"
elif [ ! -f tests/js/node_modules/.package-lock.json ] || [ tests/js/package-lock.json -nt tests/js/node_modules/.package-lock.json ]; then
  echo "== installing the JS client tests' packages (npm ci --prefix tests/js)"
  npm ci --prefix tests/js --no-audit --no-fund
fi

port="${TESSERA_MOTO_PORT:-5005}"
status=0
moto_pid=""
moto_log=""
# moto's log is kept only when something failed; nothing else is left in the temporary
# directory: the tests remove their own data directories and keys.
cleanup() {
  if [ -n "$moto_pid" ]; then kill "$moto_pid" 2>/dev/null || true; fi
  if [ -n "$moto_log" ]; then
    if [ "$status" -eq 0 ]; then rm -f "$moto_log"; fi
  fi
}
trap cleanup EXIT
if ! curl -s -o /dev/null "http://127.0.0.1:${port}/moto-api/"; then
  moto_log=$(mktemp "${TMPDIR:-/tmp}/tessera-moto.XXXXXX.log")
  echo "== starting moto's server (requests serialised, see tools/moto-serial.py) on 127.0.0.1:${port}; its log: ${moto_log} (removed when every test passes)"
  .venv/bin/python tools/moto-serial.py 127.0.0.1 "$port" >"$moto_log" 2>&1 &
  moto_pid=$!
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:${port}/moto-api/" && break
    sleep 0.2
  done
fi
if ! curl -s -o /dev/null "http://127.0.0.1:${port}/moto-api/"; then
  status=1
  echo "moto did not start on 127.0.0.1:${port} (another program on that port? set TESSERA_MOTO_PORT)"
  exit 1
fi

export TESSERA_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:${port}"
export TESSERA_TEST_PYTHON="$PWD/.venv/bin/python"
# --no-fail-fast: every test binary runs, so the total counts them all; the filter drops the
# blocks of binaries that ran no test (the empty doc-tests) and ends with that total. The exit
# status is cargo's (pipefail).
cargo test --no-fail-fast "$@" 2>&1 | awk -f scripts/test-summary.awk || status=$?
exit "$status"
