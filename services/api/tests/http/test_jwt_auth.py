"""The jwt auth mode: tokens verified against a JWKS served over real HTTP on loopback."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from snapinfra_api.app import create_app
from snapinfra_api.bootstrap import build_dependencies

from ..conftest import api_settings

ISSUER, AUDIENCE = "https://issuer.test", "snapinfra-api"


@pytest.fixture(scope="module")
def keys():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048), rsa.generate_private_key(
        public_exponent=65537, key_size=2048
    )


@pytest.fixture(scope="module")
def jwks_url(keys):
    public = json.loads(RSAAlgorithm.to_jwk(keys[0].public_key()))
    document = json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(document)))
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def jwt_client(stack, jwks_url):
    settings = api_settings(stack).model_copy(
        update={"auth_mode": "jwt", "jwt_jwks_url": jwks_url, "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE}
    )
    return create_app(dependencies=build_dependencies(settings)).test_client()


def token(key, **claims) -> str:
    now = int(time.time())
    payload = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300, **claims}
    return jwt.encode(
        {k: v for k, v in payload.items() if v is not None}, key, algorithm="RS256", headers={"kid": "k1"}
    )


def test_a_valid_token_names_the_caller(jwt_client, keys):
    response = jwt_client.get("/api/code-gen", headers={"Authorization": f"Bearer {token(keys[0])}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "make_header",
    [
        lambda k: f"Bearer {token(k[0], exp=int(time.time()) - 60)}",  # expired
        lambda k: f"Bearer {token(k[1])}",  # signed by another key
        lambda k: f"Bearer {token(k[0], aud='someone-else')}",  # wrong audience
        lambda k: f"Bearer {token(k[0], iss='https://evil.test')}",  # wrong issuer
        lambda k: f"Bearer {token(k[0], sub=None)}",  # no subject
        lambda k: (
            "Bearer "
            + jwt.encode(
                {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60},
                key=None,
                algorithm="none",
                headers={"kid": "k1"},
            )
        ),  # alg none
        lambda k: "Bearer not.a.token",
        lambda k: "Basic YWxpY2U6cGFzc3dvcmQ=",
        lambda k: "",
    ],
    ids=["expired", "wrong-key", "wrong-audience", "wrong-issuer", "no-sub", "alg-none", "malformed", "basic", "none"],
)
def test_bad_tokens_get_401_with_a_challenge(jwt_client, keys, make_header):
    header = make_header(keys)
    response = jwt_client.get("/api/code-gen", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json["error"]["code"] == "unauthorized"


def test_the_dev_header_is_ignored_in_jwt_mode(jwt_client):
    assert jwt_client.get("/api/code-gen", headers={"x-dev-user-id": "alice"}).status_code == 401


def test_jwt_mode_without_its_settings_refuses_to_start():
    from pydantic import ValidationError

    from snapinfra_api.settings import ApiSettings

    with pytest.raises(ValidationError, match="SNAPINFRA_JWT_JWKS_URL"):
        ApiSettings(auth_mode="jwt")


def jwt_app_client(stack, jwks_url, **overrides):
    settings = api_settings(stack).model_copy(
        update={
            "auth_mode": "jwt",
            "jwt_jwks_url": jwks_url,
            "jwt_issuer": ISSUER,
            "jwt_audience": AUDIENCE,
            **overrides,
        }
    )
    return create_app(dependencies=build_dependencies(settings)).test_client()


@pytest.mark.parametrize(
    ("settings", "claims", "admin"),
    [
        ({}, {"groups": ["staff", "snapinfra-admin"]}, True),
        ({}, {"groups": ["staff"]}, False),
        ({}, {}, False),
        ({"jwt_admin_claim": "scope", "jwt_admin_value": "snapinfra:admin"}, {"scope": "read snapinfra:admin"}, True),
        ({"jwt_admin_claim": "scope", "jwt_admin_value": "snapinfra:admin"}, {"scope": "snapinfra:admin:x"}, False),
        ({"jwt_admin_claim": "cognito:groups"}, {"cognito:groups": ["snapinfra-admin"]}, True),
        ({"jwt_admin_claim": "realm_access.roles"}, {"realm_access": {"roles": ["snapinfra-admin"]}}, True),
        ({}, {"groups": "snapinfra-admin-not"}, False),
    ],
    ids=["group", "other-group", "no-claim", "scope", "scope-prefix", "cognito", "nested", "string-mismatch"],
)
def test_admin_rights_come_from_the_configured_claim(stack, jwks_url, keys, settings, claims, admin):
    client = jwt_app_client(stack, jwks_url, **settings)
    header = {"Authorization": f"Bearer {token(keys[0], **claims)}"}
    response = client.get("/api/admin/queue-status", headers=header)
    assert response.status_code == (200 if admin else 403)
    if not admin:
        assert response.json["error"]["code"] == "forbidden"
    assert client.get("/api/code-gen", headers=header).status_code == 200


def test_admin_routes_still_need_a_valid_token(stack, jwks_url, keys):
    client = jwt_app_client(stack, jwks_url)
    expired = token(keys[0], groups=["snapinfra-admin"], exp=int(time.time()) - 60)
    response = client.get("/api/admin/queue-status", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
