"""Reusable limits for routes that create work: `@rate_limited(bucket)` and `@idempotent(scope)`.

Put them under `@documented(...)`, idempotency outermost, so a replayed answer takes no token:

    @bp.post("")
    @documented(...)
    @idempotent("code-gen")
    @rate_limited("jobs")
    def create() -> ResponseReturnValue: ...

Both run after the blueprint's authentication (they key on the caller) and mark the view, so the
OpenAPI document shows their headers and answers.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, current_app, make_response, request

from snapinfra_api.adapters.limits import StoredResponse, Verdict
from snapinfra_api.http.errors import ApiError
from snapinfra_api.http.request import caller, deps

F = TypeVar("F", bound=Callable[..., Any])

RATE_LIMITED = "__snapinfra_rate_limited__"
IDEMPOTENT = "__snapinfra_idempotent__"
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces
IN_PROGRESS_LEASE_SECONDS = 60
MAX_STORED_BODY = 300_000  # DynamoDB items hold 400 KB; a larger answer is not replayable
REPLAYED_HEADERS = ("Location", "Content-Type")


def _rate_headers(verdict: Verdict) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(verdict.limit),
        "X-RateLimit-Remaining": str(verdict.remaining),
        "X-RateLimit-Reset": str(math.ceil(verdict.reset_after)),
    }


def _bucket_settings(bucket: str) -> tuple[float, int]:
    """A bucket's refill (tokens per minute, 0: no limit) and size, from settings."""
    settings = deps().settings
    if bucket == "subscriptions":
        return settings.subscription_rate_per_minute, settings.subscription_rate_burst
    return settings.job_rate_per_minute, settings.job_rate_burst


def charge(user_id: str, bucket: str) -> dict[str, str]:
    """Take a token from `user_id`'s bucket `bucket`: the X-RateLimit-* headers, or 429 with Retry-After."""
    per_minute, burst = _bucket_settings(bucket)
    if per_minute <= 0:
        return {}
    verdict = deps().rate_limits.take(f"{user_id}#{bucket}", rate_per_second=per_minute / 60, burst=burst)
    headers = _rate_headers(verdict)
    if not verdict.allowed:
        wait = max(1, math.ceil(verdict.retry_after))
        raise ApiError(
            429,
            "rate_limited",
            f"too many requests: {burst} at once and {per_minute:g} per minute are allowed; try again in {wait} s",
            headers={**headers, "Retry-After": str(wait)},
        )
    return headers


def rate_limited(bucket: str) -> Callable[[F], F]:
    """Each call takes a token from the caller's bucket `bucket` (rate and burst from settings);
    without one, 429 with Retry-After. Every answer says where the bucket stands."""

    def wrap(view: F) -> F:
        @functools.wraps(view)
        def limited(*args: Any, **kwargs: Any) -> Any:
            headers = charge(caller().user_id, bucket)
            if not headers:
                return view(*args, **kwargs)
            response = make_response(view(*args, **kwargs))
            response.headers.update(headers)
            return response

        setattr(limited, RATE_LIMITED, bucket)
        return limited  # type: ignore[return-value]

    return wrap


def _fingerprint() -> str:
    """The request's method, path and body; JSON bodies canonically, so key order and spacing don't count.
    Parsed by the app's JSON provider, which refuses a body nested too deep (400) before parsing it."""
    raw = request.get_data(cache=True)
    try:
        body = json.dumps(current_app.json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        body = raw
    return hashlib.sha256(request.method.encode() + b" " + request.path.encode() + b"\n" + body).hexdigest()


def _replay(stored: StoredResponse) -> Response:
    response = Response(stored.body, status=stored.status)
    response.headers.update(stored.headers)
    response.headers["Idempotent-Replayed"] = "true"
    return response


def idempotent(scope: str) -> Callable[[F], F]:
    """Honour an `Idempotency-Key` header: the same key with the same body answers the first answer
    again (and does the work once); with another body, 422; while the first is still running, 409.
    Only successful answers are kept (for `idempotency_ttl_seconds`); a failure frees the key."""

    def wrap(view: F) -> F:
        @functools.wraps(view)
        def once(*args: Any, **kwargs: Any) -> Any:
            key = request.headers.get(IDEMPOTENCY_HEADER)
            if key is None:
                return view(*args, **kwargs)
            if not IDEMPOTENCY_KEY.match(key):
                raise ApiError(
                    400,
                    "invalid_idempotency_key",
                    f"{IDEMPOTENCY_HEADER} must be 1 to 255 printable ASCII characters without spaces",
                    [{"field": IDEMPOTENCY_HEADER, "message": "1 to 255 printable ASCII characters"}],
                )
            d, user = deps(), caller().user_id
            store = d.idempotency
            ttl = d.settings.idempotency_ttl_seconds
            fingerprint = _fingerprint()
            found = store.claim(user, scope, key, fingerprint, ttl=ttl, lease=IN_PROGRESS_LEASE_SECONDS)
            if found is not None:
                if found.fingerprint != fingerprint:
                    raise ApiError(
                        422,
                        "idempotency_key_reused",
                        f"this {IDEMPOTENCY_HEADER} was used with another request body; use a new key",
                        [{"field": IDEMPOTENCY_HEADER, "message": "already used with another body"}],
                    )
                if found.response is None:
                    raise ApiError(
                        409,
                        "idempotency_in_progress",
                        f"a request with this {IDEMPOTENCY_HEADER} is still being handled; try again shortly",
                        headers={"Retry-After": "1"},
                    )
                return _replay(found.response)
            try:
                response = make_response(view(*args, **kwargs))
            except BaseException:
                store.release(user, scope, key)
                raise
            body = response.get_data(as_text=True)
            if 200 <= response.status_code < 300 and len(body) <= MAX_STORED_BODY:
                headers = {name: response.headers[name] for name in REPLAYED_HEADERS if name in response.headers}
                store.complete(user, scope, key, StoredResponse(response.status_code, body, headers), ttl=ttl)
            else:
                store.release(user, scope, key)
            return response

        setattr(once, IDEMPOTENT, scope)
        return once  # type: ignore[return-value]

    return wrap
