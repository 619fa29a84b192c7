#!/usr/bin/env python3
"""Cold start of function binaries, as Lambda starts them (bench/functions-build.sh runs this).

Starts moto (DynamoDB, KMS, Secrets Manager) on loopback with a table, a KMS key and the origin
secret, and a minimal Lambda Runtime API of its own; then starts each binary as a fresh process,
as Lambda does, with the environment template.yaml gives it, hands it the function's sample
event (events/<name>/success.json) and measures, from the process start:
  init    until it asks for its first event (GET .../invocation/next): Lambda's "Init Duration"
          (the SDK configuration, the origin secret, the master key through KMS, the front end);
  answer  until it posts the answer to that event (init + the first request).
The sample events name a pool and a token the empty table does not have, so the first answer
is the error the operation gives for them after its store reads; the first start of the first
binary also creates the master data key (KMS GenerateDataKey), the others open it (Decrypt).

    .venv/bin/python bench/coldstart.py --get-user target/release/get-user --sign-up target/release/sign-up
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORIGIN_SECRET = "Kq3xV9mZt2Lr7Wp4Ys8Nd1Hc6Jf0Gb5TuE2aQw9RkX4vM7nB3yC8sD1fH6jL0pZ5"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Runtime:
    """The Lambda Runtime API, for one event per process."""

    def __init__(self) -> None:
        self.event = b"{}"
        self.next_at: float | None = None
        self.answer_at: float | None = None
        self.answer: bytes = b""
        self.done = threading.Event()
        runtime = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_):
                pass

            def do_GET(self):
                if not self.path.endswith("/invocation/next"):
                    self.send_error(404)
                    return
                if runtime.next_at is not None:  # the second /next: hold it until the process is gone
                    runtime.done.wait(30)
                    return
                runtime.next_at = time.perf_counter()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", "coldstart-0001")
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                                 "arn:aws:lambda:us-east-1:123456789012:function:coldstart")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(runtime.event)))
                self.end_headers()
                self.wfile.write(runtime.event)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                runtime.answer_at = time.perf_counter()
                runtime.answer = body if self.path.endswith("/response") else b"ERROR " + body
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                runtime.done.set()

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        host, port = self.server.server_address
        return f"{host}:{port}"

    def reset(self, event: bytes) -> None:
        self.event, self.next_at, self.answer_at, self.answer = event, None, None, b""
        self.done.clear()


def start_moto(python: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([python, str(ROOT / "tools" / "moto-serial.py"), "127.0.0.1", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    sys.exit("moto did not start")


def until_first_aws_call(binary: str, env: dict) -> float:
    """From the process start to its first connection to an AWS endpoint (ms): the function's own
    start-up (runtime, SDK configuration, TLS roots), before any network round trip. The endpoint
    is a listener that only notes the time."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.settimeout(30)
        endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}"
        started = time.perf_counter()
        proc = subprocess.Popen([binary], env={**env, "AWS_ENDPOINT_URL": endpoint},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            conn, _ = listener.accept()
            at = time.perf_counter()
            conn.close()
        finally:
            proc.kill()
            proc.wait()
    return (at - started) * 1000


def describe(answer: bytes) -> str:
    """`HTTP 400 NotAuthorizedException` from the function's API Gateway answer."""
    try:
        response = json.loads(answer)
        body = response.get("body") or "{}"
        if response.get("isBase64Encoded"):
            body = base64.b64decode(body).decode()
        return f"HTTP {response.get('statusCode')} {json.loads(body).get('__type', 'OK')}"
    except (ValueError, AttributeError):
        return answer[:200].decode(errors="replace")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--get-user", required=True)
    ap.add_argument("--sign-up", required=True)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    import boto3  # from the test venv (scripts/test.sh installs it with moto)

    moto, endpoint = start_moto(sys.executable)
    try:
        session = dict(endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
        table = "tessera-coldstart"
        boto3.client("dynamodb", **session).create_table(
            TableName=table, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}])
        key_id = boto3.client("kms", **session).create_key(Description="coldstart")["KeyMetadata"]["KeyId"]
        origin_arn = boto3.client("secretsmanager", **session).create_secret(
            Name="tessera-origin", SecretString=ORIGIN_SECRET)["ARN"]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
            "TESSERA_TABLE": table, "TESSERA_KMS_KEY_ID": key_id,
            "TESSERA_ISSUER_BASE": "https://d111111abcdef8.cloudfront.net",
            "TESSERA_ORIGIN_SECRET_ARN": origin_arn,
            "AWS_LAMBDA_FUNCTION_NAME": "coldstart",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/coldstart", "AWS_LAMBDA_LOG_STREAM_NAME": "coldstart",
            "RUST_LOG": "warn",
        }
        for name, binary in (("get-user", args.get_user), ("sign-up", args.sign_up)):
            event = (ROOT / "events" / name / "success.json").read_text().replace("{{ORIGIN_SECRET}}", ORIGIN_SECRET)
            inits, answers, status = [], [], ""
            for _ in range(args.runs + 1):  # the first run warms the page cache and is not counted
                # A Runtime API per process: a late request of the previous one cannot reach this one.
                runtime = Runtime()
                runtime.reset(event.encode())
                started = time.perf_counter()
                proc = subprocess.Popen([binary], env={**env, "AWS_LAMBDA_RUNTIME_API": runtime.address},
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                finished = runtime.done.wait(30)
                proc.kill()
                _, err = proc.communicate()
                if not finished or runtime.next_at is None or runtime.answer_at is None:
                    sys.exit(f"{name}: no answer within 30 s\n{err.decode(errors='replace')[-2000:]}")
                runtime.done.set()
                runtime.server.shutdown()
                inits.append((runtime.next_at - started) * 1000)
                answers.append((runtime.answer_at - started) * 1000)
                status = describe(runtime.answer)
            inits, answers = inits[1:], answers[1:]
            local = [until_first_aws_call(binary, env) for _ in range(args.runs)]
            print(f"cold start {name}: init {statistics.median(inits):.1f} ms median "
                  f"({min(inits):.1f}-{max(inits):.1f}), first answer {statistics.median(answers):.1f} ms median "
                  f"({min(answers):.1f}-{max(answers):.1f}) over {len(inits)} starts; the answer: {status}; "
                  f"start to the first AWS call {statistics.median(local):.1f} ms median (the rest is moto's round trips)")
    finally:
        moto.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
