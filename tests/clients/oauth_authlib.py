"""Authlib (a Python OAuth 2.0 client) against the local server's token endpoint: the
client_credentials grant with custom scopes, by Basic and by body secret, the token checked
against the pool's JWKS with PyJWT, and Authlib's error for a wrong secret.

Environment: TESSERA_URL, TESSERA_POOL, TESSERA_CLIENT_ID, TESSERA_CLIENT_SECRET, TESSERA_SCOPE.
"""

import os
import sys

import jwt
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.integrations.base_client.errors import OAuthError

url = os.environ["TESSERA_URL"]
pool = os.environ["TESSERA_POOL"]
client_id = os.environ["TESSERA_CLIENT_ID"]
secret = os.environ["TESSERA_CLIENT_SECRET"]
scope = os.environ["TESSERA_SCOPE"]
issuer = f"{url}/{pool}"

config = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
token_endpoint = config["token_endpoint"]
jwks = jwt.PyJWKClient(config["jwks_uri"])


def check(token, method):
    assert token["token_type"] == "Bearer", token
    assert "refresh_token" not in token and "id_token" not in token, token
    key = jwks.get_signing_key_from_jwt(token["access_token"])
    claims = jwt.decode(token["access_token"], key.key, algorithms=["RS256"], issuer=issuer)
    assert claims["token_use"] == "access", claims
    assert claims["client_id"] == client_id and claims["sub"] == client_id, claims
    assert claims["scope"] == scope, (method, claims)


for method in ("client_secret_basic", "client_secret_post"):
    session = OAuth2Session(client_id, secret, scope=scope, token_endpoint_auth_method=method)
    check(session.fetch_token(token_endpoint, grant_type="client_credentials"), method)

try:
    OAuth2Session(client_id, "wrong", scope=scope).fetch_token(token_endpoint, grant_type="client_credentials")
    sys.exit("a wrong secret was accepted")
except OAuthError as e:
    assert e.error == "invalid_client", e.error

try:
    OAuth2Session(client_id, secret, scope="openid").fetch_token(token_endpoint, grant_type="client_credentials")
    sys.exit("a reserved scope was granted to client_credentials")
except OAuthError as e:
    assert e.error == "invalid_scope", e.error

print("all checks passed")
