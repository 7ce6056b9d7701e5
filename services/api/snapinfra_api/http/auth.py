"""Who is calling. `dev`: the x-dev-user-id header (local use only). `jwt`: a Bearer JWT verified
against the issuer's JWKS (signature, issuer, audience, expiry, algorithm), the user from `sub`, admin
rights from a configurable claim (a group list, or a space-separated scope)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
from flask import Request

from snapinfra_api.http.errors import ApiError

USER_ID = re.compile(r"^[A-Za-z0-9._@|:-]{1,128}$")


@dataclass(frozen=True)
class Principal:
    user_id: str
    is_admin: bool = False


class Authenticator(Protocol):
    def authenticate(self, request: Request) -> Principal: ...


def _unauthorized(message: str, scheme: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": scheme})


def _principal(user_id: str, scheme: str, *, is_admin: bool = False) -> Principal:
    if not USER_ID.match(user_id):
        raise _unauthorized("the user id has characters or a length we do not accept", scheme)
    return Principal(user_id, is_admin)


class DevHeaderAuthenticator:
    """The guide's local mode: the header names the caller; the users in `admins` have admin rights."""

    HEADER = "x-dev-user-id"

    def __init__(self, admins: frozenset[str] = frozenset({"admin"})):
        self._admins = admins

    def authenticate(self, request: Request) -> Principal:
        user_id = request.headers.get(self.HEADER, "").strip()
        if not user_id:
            raise _unauthorized(f"dev auth mode: send the {self.HEADER} header", 'DevUser realm="snapinfra"')
        return _principal(user_id, 'DevUser realm="snapinfra"', is_admin=user_id in self._admins)


def claim_grants(claims: dict[str, Any], claim: str, value: str) -> bool:
    """Whether `claim` (a name, or a dotted path into nested objects) holds `value`: as one item of a
    list (groups, roles) or one word of a space-separated string (scope)."""
    found: Any = claims.get(claim)
    if found is None and "." in claim:
        found = claims
        for part in claim.split("."):
            found = found.get(part) if isinstance(found, dict) else None
    if isinstance(found, str):
        return value in found.split()
    if isinstance(found, list):
        return value in [item for item in found if isinstance(item, str)]
    return False


class JwtAuthenticator:
    def __init__(
        self,
        *,
        jwks_url: str,
        issuer: str,
        audience: str,
        algorithms: list[str],
        admin_claim: str = "groups",
        admin_value: str = "snapinfra-admin",
    ):
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=5)
        self._issuer, self._audience = issuer, audience
        self._algorithms = [a for a in algorithms if a.lower() != "none"]
        self._admin_claim, self._admin_value = admin_claim, admin_value

    def authenticate(self, request: Request) -> Principal:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        challenge = 'Bearer realm="snapinfra"'
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("send an Authorization: Bearer <token> header", challenge)
        try:
            key = self._jwks.get_signing_key_from_jwt(token.strip())
            claims = jwt.decode(
                token.strip(),
                key.key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWKClientConnectionError as exc:
            raise ApiError(503, "auth_unavailable", "the token issuer's keys could not be fetched; try again") from exc
        except jwt.PyJWTError as exc:
            raise _unauthorized(f"invalid token: {exc}", f'{challenge}, error="invalid_token"') from exc
        is_admin = claim_grants(claims, self._admin_claim, self._admin_value)
        return _principal(str(claims["sub"]), challenge, is_admin=is_admin)
