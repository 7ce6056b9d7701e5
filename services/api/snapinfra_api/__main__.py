"""`snapinfra-api serve`: the HTTP API under gunicorn, with the projection consumer and the outbox
relay running beside it in the worker process."""

from __future__ import annotations

import json
import ssl
from typing import Any

import click
from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.http import errors
from gunicorn.workers.gthread import ThreadWorker

from snapinfra_api.app import create_app
from snapinfra_api.bootstrap import build_dependencies
from snapinfra_api.http.errors import error_document
from snapinfra_api.settings import ApiSettings
from snapinfra_shared.runtime import start_service

# What gunicorn itself refuses before the app sees a request, answered as the api's JSON errors.
_CLIENT_ERRORS: tuple[tuple[type[Exception], int, str, str], ...] = (
    (errors.LimitRequestLine, 414, "URI Too Long", "uri_too_long"),
    (errors.LimitRequestHeaders, 431, "Request Header Fields Too Large", "headers_too_large"),
    (errors.ExpectationFailed, 417, "Expectation Failed", "expectation_failed"),
    (errors.UnsupportedTransferCoding, 501, "Not Implemented", "not_implemented"),
    (errors.ForbiddenProxyRequest, 403, "Forbidden", "forbidden"),
)
_SERVER_FAULTS = (errors.ConfigurationProblem, errors.InvalidResponseHeader, errors.InvalidResponseHeaderName)


def server_error(exc: BaseException) -> tuple[int, str, str, str]:
    """The status, reason, error code and message for an error gunicorn meets outside the app."""
    for kind, status, reason, code in _CLIENT_ERRORS:
        if isinstance(exc, kind):
            return status, reason, code, str(exc)
    if isinstance(exc, (errors.ParseException, ssl.SSLError)) and not isinstance(exc, _SERVER_FAULTS):
        return 400, "Bad Request", "bad_request", f"the request is not valid HTTP: {exc}"
    return 500, "Internal Server Error", "internal_error", "something went wrong on our side; it has been logged"


class JsonErrorWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's gthread worker whose own answers (a request line or headers over gunicorn's limits, a request
    it cannot parse) are the api's JSON errors instead of gunicorn's HTML pages."""

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        status, reason, code, message = server_error(exc)
        if status >= 500:
            self.log.exception("error handling a request")
        else:
            self.log.warning("invalid request from %s: %s", (addr or ("",))[0], exc)
        body = json.dumps(error_document(code, message)).encode()
        head = (
            f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        try:
            util.write_nonblock(client, head.encode("latin1") + body)
        except OSError:
            self.log.debug("the client left before its error was sent")


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: ApiSettings, options: dict[str, Any]):
        self._settings = settings
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        clients = start_service("api", self._settings)
        dependencies = build_dependencies(self._settings, clients)
        self._dependencies = dependencies
        return create_app(dependencies=dependencies)


def _post_worker_init(worker: Any) -> None:
    worker.app._dependencies.start_background()


def _worker_exit(_server: Any, worker: Any) -> None:
    dependencies = getattr(worker.app, "_dependencies", None)
    if dependencies is not None:
        dependencies.stop_background(timeout=dependencies.settings.shutdown_grace_seconds)


@click.group()
def main() -> None:
    """The Snapinfra api service."""


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True)  # noqa: S104 - a container listens on all interfaces
@click.option("--port", default=5000, show_default=True)
def serve(host: str, port: int) -> None:
    """Serve HTTP and consume the api's queue."""
    settings = ApiSettings()
    _Server(
        settings,
        {
            "bind": f"{host}:{port}",
            "workers": 1,  # one process: the projection consumer and metrics live in it
            "worker_class": JsonErrorWorker,
            "threads": settings.http_threads,
            "graceful_timeout": max(1, int(settings.shutdown_grace_seconds)),
            "timeout": 60,
            "accesslog": None,
            "post_worker_init": _post_worker_init,
            "worker_exit": _worker_exit,
            "preload_app": False,
            "control_socket_disable": True,
        },
    ).run()


if __name__ == "__main__":
    main()
