"""Known vs unknown users' answer times under PreventUserExistenceErrors, as true medians.

Over HTTP against a running server, where `tessera-bench enumeration` serves in-process: the
figures in docs/security.md ("Telling users apart") come from it.

Against a running `tessera serve` (embedded or DynamoDB store, quotas off): makes N confirmed
and N unconfirmed users (SDK, admin keys), then times ForgotPassword, ResendConfirmationCode and
InitiateAuth (a wrong password) for each known user and for as many unknown names, alternated
(known, unknown, known, …) so that drift hits both alike, over one kept-alive HTTP connection
(these operations are unsigned, so the timed request is plain JSON: no SDK overhead). Each
pass uses fresh unknown names; the known users are reused, which stays under the send quota
(5 per hour) for up to 4 passes. Two passes give the run-to-run noise.

  TESSERA_ADMIN_ACCESS_KEY_ID=… TESSERA_ADMIN_SECRET_ACCESS_KEY=… \\
    python bench/enumeration_median.py --endpoint http://127.0.0.1:9229 --calls 1000 --passes 2

Needs boto3 (setup only).
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import statistics
import sys
import time
import urllib.parse

import boto3
from botocore.config import Config

PASSWORD = "Correct-Horse-9"
TARGET = "AWSCognitoIdentityProviderService."


def admin_client(endpoint):
    return boto3.client(
        "cognito-idp",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=os.environ.get("TESSERA_ADMIN_ACCESS_KEY_ID", "AKIATESSERALOCAL0000"),
        aws_secret_access_key=os.environ.get(
            "TESSERA_ADMIN_SECRET_ACCESS_KEY", "tessera-local-secret-key-not-for-production"
        ),
        config=Config(retries={"max_attempts": 0}, max_pool_connections=32),
    )


def setup(c, n, concurrency):
    pool = c.create_user_pool(
        PoolName="enumeration",
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=["email"],
    )["UserPool"]["Id"]
    client_id = c.create_user_pool_client(
        UserPoolId=pool,
        ClientName="hiding",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        PreventUserExistenceErrors="ENABLED",
    )["UserPoolClient"]["ClientId"]
    confirmed = [f"known{i}@example.com" for i in range(n)]
    unconfirmed = [f"pending{i}@example.com" for i in range(n)]

    def make_confirmed(name):
        c.admin_create_user(
            UserPoolId=pool,
            Username=name,
            UserAttributes=[{"Name": "email", "Value": name}, {"Name": "email_verified", "Value": "true"}],
            MessageAction="SUPPRESS",
        )
        c.admin_set_user_password(UserPoolId=pool, Username=name, Password=PASSWORD, Permanent=True)

    def make_unconfirmed(name):
        c.sign_up(
            ClientId=client_id,
            Username=name,
            Password=PASSWORD,
            UserAttributes=[{"Name": "email", "Value": name}],
        )

    with concurrent.futures.ThreadPoolExecutor(concurrency) as ex:
        list(ex.map(make_confirmed, confirmed))
        list(ex.map(make_unconfirmed, unconfirmed))
    return pool, client_id, confirmed, unconfirmed


class Caller:
    """Unsigned JSON calls over one kept-alive connection."""

    def __init__(self, endpoint):
        u = urllib.parse.urlparse(endpoint)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)

    def call(self, op, body):
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET + op}
        started = time.perf_counter_ns()
        self.conn.request("POST", "/", data, headers)
        resp = self.conn.getresponse()
        payload = resp.read()
        took = time.perf_counter_ns() - started
        return took / 1e6, resp.status, payload


def pct(sorted_ms, p):
    """The same nearest-rank percentile as the Rust bench's `percentile` (p in percent)."""
    import math

    rank = max(1, min(len(sorted_ms), math.ceil(p / 100 * len(sorted_ms))))
    return sorted_ms[rank - 1]


def measure(caller, op, body_of, known, unknown, ok_status):
    k, u, unexpected = [], [], 0
    for a, b in zip(known, unknown):
        for target, who in ((k, a), (u, b)):
            took, status, payload = caller.call(op, body_of(who))
            target.append(took)
            if (status == 200) != ok_status:
                unexpected += 1
                if unexpected <= 3:
                    print(f"  unexpected answer for {who}: {status} {payload[:200]!r}", file=sys.stderr)
    k.sort()
    u.sort()
    return {
        "known_p50": statistics.median(k),
        "unknown_p50": statistics.median(u),
        "known_p90": pct(k, 90),
        "unknown_p90": pct(u, 90),
        "known_p0_5": pct(k, 0.5),
        "unknown_p0_5": pct(u, 0.5),
        "known_mean": statistics.fmean(k),
        "unknown_mean": statistics.fmean(u),
        "unexpected": unexpected,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--label", default="")
    ap.add_argument("--json", help="append one JSON line per pass and operation")
    a = ap.parse_args()
    n = a.calls
    c = admin_client(a.endpoint)
    t0 = time.time()
    print(f"making {n} confirmed and {n} unconfirmed users", file=sys.stderr)
    pool, client_id, confirmed, unconfirmed = setup(c, n, a.concurrency)
    print(f"setup {time.time() - t0:.0f} s", file=sys.stderr)
    caller = Caller(a.endpoint)

    def forgot(name):
        return {"ClientId": client_id, "Username": name}

    def sign_in(name):
        return {
            "ClientId": client_id,
            "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": name, "PASSWORD": "Wrong-Horse-1"},
        }

    ops = [
        ("ForgotPassword", "ForgotPassword", forgot, confirmed, "ghost-forgot", True),
        ("ResendConfirmationCode", "ResendConfirmationCode", forgot, unconfirmed, "ghost-resend", True),
        ("InitiateAuth (wrong password)", "InitiateAuth", sign_in, confirmed, "ghost-auth", False),
    ]
    for p in range(1, a.passes + 1):
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        print(f"\n{a.label} pass {p}: {n} calls each for a known user and for an unknown name; load {load}; "
              f"{time.strftime('%H:%M:%S', time.gmtime())} UTC")
        print("| operation | known p50 | unknown p50 | difference | known p90 | unknown p90 | known p0.5 | unknown p0.5 |")
        print("|---|---|---|---|---|---|---|---|")
        for label, op, body, known, prefix, ok in ops:
            t = time.time()
            unknown = [f"{prefix}{p}-{i}@example.com" for i in range(n)]
            r = measure(caller, op, body, known, unknown, ok)
            diff = (r["unknown_p50"] - r["known_p50"]) / r["known_p50"] * 100
            extra = f" ({r['unexpected']} unexpected answers)" if r["unexpected"] else ""
            print(
                f"| {label} | {r['known_p50']:.2f} ms | {r['unknown_p50']:.2f} ms | {diff:+.1f} % "
                f"| {r['known_p90']:.2f} ms | {r['unknown_p90']:.2f} ms "
                f"| {r['known_p0_5']:.2f} ms | {r['unknown_p0_5']:.2f} ms |{extra}",
                flush=True,
            )
            print(f"  {label}: {time.time() - t:.0f} s", file=sys.stderr)
            if a.json:
                with open(a.json, "a") as f:
                    f.write(json.dumps({"label": a.label, "pass": p, "operation": label, "load": load, **r}) + "\n")


if __name__ == "__main__":
    main()
