"""The HTTP side of the client: one httpx client with the caller's credentials, JSON errors made exceptions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import connect_sse


class ApiFailure(Exception):
    """The API answered with an error (its `{"error": {"code", "message", "fields"}}`)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: list[dict[str, str]] | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields = fields or []
        self.retry_after = retry_after  # seconds, when the answer said (Retry-After)

    def __str__(self) -> str:
        details = "".join(f"\n  {f.get('field')}: {f.get('message')}" for f in self.fields)
        return f"{self.status} {self.code}: {self.message}{details}"


class Unreachable(Exception):
    """The API could not be reached at all."""


@dataclass
class Api:
    base_url: str
    token: str | None = None
    dev_user: str | None = None
    timeout: float = 30.0
    _http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        headers = {"User-Agent": "snapinfra-cli"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        elif self.dev_user:
            headers["x-dev-user-id"] = self.dev_user
        self._http = httpx.Client(base_url=self.base_url.rstrip("/"), headers=headers, timeout=self.timeout)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer (None for an empty one); an ApiFailure for an error answer."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise Unreachable(f"cannot reach the API at {self.base_url}: {exc}") from exc
        _raise_for_error(response)
        return response.json() if response.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v is not None}
        return self.request("POST", path, json=body, headers=headers or {}, params=query)

    def delete(self, path: str, **params: Any) -> Any:
        return self.request("DELETE", path, params={k: v for k, v in params.items() if v is not None})

    def pages(
        self,
        path: str,
        limit: int | None = None,
        keep: Callable[[dict[str, Any]], bool] | None = None,
        **params: Any,
    ) -> Iterator[dict[str, Any]]:
        """Every item of a cursor listing (those `keep` accepts), page after page, up to `limit` of them."""
        cursor, seen = None, 0
        while True:
            page = self.get(path, cursor=cursor, **params)
            for item in page["items"]:
                if keep is not None and not keep(item):
                    continue
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return
            cursor = page.get("nextCursor")
            if not cursor:
                return

    def events(self, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """The (event, data) pairs of a Server-Sent Events stream until the server ends it."""
        try:
            with connect_sse(self._http, "GET", path, timeout=httpx.Timeout(self.timeout, read=60)) as source:
                if source.response.status_code >= 400:
                    source.response.read()
                    _raise_for_error(source.response)
                for sse in source.iter_sse():
                    yield sse.event, sse.json() if sse.data else {}
        except httpx.TransportError as exc:
            raise Unreachable(f"the event stream from {self.base_url} broke: {exc}") from exc

    def download(self, path: str, target: Path) -> int:
        """Stream a file answer to `target`; returns its size in bytes."""
        try:
            with self._http.stream("GET", path) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for_error(response)
                size = 0
                with target.open("wb") as out:
                    for chunk in response.iter_bytes():
                        out.write(chunk)
                        size += len(chunk)
                return size
        except httpx.TransportError as exc:
            raise Unreachable(f"the download from {self.base_url} broke: {exc}") from exc


def _raise_for_error(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    wait = response.headers.get("Retry-After", "")
    retry_after = float(wait) if wait.isdigit() else None
    try:
        error = response.json()["error"]
        raise ApiFailure(response.status_code, error["code"], error["message"], error.get("fields"), retry_after)
    except (ValueError, KeyError, TypeError):
        message = response.text[:500] or response.reason_phrase
        raise ApiFailure(response.status_code, "http_error", message, retry_after=retry_after) from None
