"""Drives a running Tessera with boto3 and the AWS CLI, and verifies its tokens with PyJWT.

Run by the e2e test `clients::boto3_and_aws_cli` with TESSERA_URL, TESSERA_KEY_ID and
TESSERA_SECRET set. Exits non-zero on the first failed check.
"""
import json
import os
import subprocess
import sys
import urllib.request

import boto3
import botocore
import jwt
from botocore.config import Config

URL = os.environ["TESSERA_URL"]
KEY_ID = os.environ["TESSERA_KEY_ID"]
SECRET = os.environ["TESSERA_SECRET"]


def client(key_id=KEY_ID, secret=SECRET):
    return boto3.client(
        "cognito-idp",
        endpoint_url=URL,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


def expect_error(fn, name):
    try:
        fn()
    except botocore.exceptions.ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == name, f"expected {name}, got {got}: {e}"
        return e.response["Error"]["Message"]
    raise AssertionError(f"expected {name}, call succeeded")


idp = client()
pool = idp.create_user_pool(
    PoolName="boto3-pool",
    UsernameAttributes=["email"],
    AutoVerifiedAttributes=["email"],
)["UserPool"]
pool_id = pool["Id"]
app = idp.create_user_pool_client(
    UserPoolId=pool_id,
    ClientName="boto3-app",
    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"],
)["UserPoolClient"]
client_id = app["ClientId"]

signed_up = idp.sign_up(ClientId=client_id, Username="py@example.com", Password="Correct-Horse-9")
assert signed_up["UserConfirmed"] is False
assert signed_up["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"

with urllib.request.urlopen(f"{URL}/_dev/messages") as r:
    messages = [m for m in json.load(r) if m["destination"] == "py@example.com"]
idp.confirm_sign_up(ClientId=client_id, Username="py@example.com", ConfirmationCode=messages[-1]["code"])

auth = idp.initiate_auth(
    ClientId=client_id,
    AuthFlow="USER_PASSWORD_AUTH",
    AuthParameters={"USERNAME": "py@example.com", "PASSWORD": "Correct-Horse-9"},
)["AuthenticationResult"]
admin_auth = idp.admin_initiate_auth(
    UserPoolId=pool_id,
    ClientId=client_id,
    AuthFlow="ADMIN_USER_PASSWORD_AUTH",
    AuthParameters={"USERNAME": "py@example.com", "PASSWORD": "Correct-Horse-9"},
)["AuthenticationResult"]
assert admin_auth["TokenType"] == "Bearer"

# Verify both tokens with PyJWT against the pool's JWKS (an independent JWT library).
issuer = f"{URL}/{pool_id}"
with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration") as r:
    assert json.load(r)["issuer"] == issuer
jwks = jwt.PyJWKClient(f"{issuer}/.well-known/jwks.json")
id_claims = jwt.decode(
    auth["IdToken"],
    jwks.get_signing_key_from_jwt(auth["IdToken"]).key,
    algorithms=["RS256"],
    audience=client_id,
    issuer=issuer,
)
assert id_claims["token_use"] == "id" and id_claims["email"] == "py@example.com"
assert id_claims["email_verified"] is True
access_claims = jwt.decode(
    auth["AccessToken"],
    jwks.get_signing_key_from_jwt(auth["AccessToken"]).key,
    algorithms=["RS256"],
    issuer=issuer,
    options={"verify_aud": False},
)
assert access_claims["token_use"] == "access" and access_claims["client_id"] == client_id
assert "aud" not in access_claims
assert jwt.get_unverified_header(auth["IdToken"])["kid"] != jwt.get_unverified_header(auth["AccessToken"])["kid"]

user = idp.get_user(AccessToken=auth["AccessToken"])
assert user["Username"] == id_claims["sub"]
refreshed = idp.initiate_auth(
    ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": auth["RefreshToken"]}
)["AuthenticationResult"]
assert "RefreshToken" not in refreshed

expect_error(lambda: client("AKIANOTAKEY000000000", "x").list_user_pools(MaxResults=10), "UnrecognizedClientException")
expect_error(lambda: client(KEY_ID, "wrong-secret").list_user_pools(MaxResults=10), "InvalidSignatureException")
msg = expect_error(
    lambda: idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "py@example.com", "PASSWORD": "Wrong-Horse-9"},
    ),
    "NotAuthorizedException",
)
assert msg == "Incorrect username or password.", msg

# The AWS CLI, signed with the admin keys; and with wrong keys, rejected.
aws = os.path.join(os.path.dirname(sys.executable), "aws")
env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET, AWS_DEFAULT_REGION="us-east-1")
out = subprocess.run(
    [aws, "cognito-idp", "describe-user-pool", "--user-pool-id", pool_id, "--endpoint-url", URL],
    env=env, capture_output=True, text=True, check=True,
)
assert json.loads(out.stdout)["UserPool"]["Id"] == pool_id
out = subprocess.run(
    [aws, "cognito-idp", "list-user-pools", "--max-results", "60", "--endpoint-url", URL],
    env=dict(env, AWS_SECRET_ACCESS_KEY="wrong"), capture_output=True, text=True,
)
assert out.returncode != 0 and "InvalidSignatureException" in out.stderr, out.stderr
out = subprocess.run(
    [aws, "cognito-idp", "admin-get-user", "--user-pool-id", pool_id, "--username", "py@example.com", "--endpoint-url", URL],
    env=env, capture_output=True, text=True, check=True,
)
assert json.loads(out.stdout)["UserStatus"] == "CONFIRMED"
print("boto3, AWS CLI and PyJWT: all checks passed")
