"""`python -m snapinfra_shared.local.moto_main [PORT]`: moto's server on loopback for `make dev`,
`snapinfra-dev aws` and every test (through `EmbeddedAws`), without its access log (a line per AWS call
would drown the services' logs), with DynamoDB made atomic, and with CloudFormation able to create an HTTP API
(`apigatewayv2_cfn`).

DynamoDB applies each request atomically: a conditional write checks and writes an item as one step,
a transaction applies whole or not at all. moto's backend does not: it checks a condition, then
applies the update in separate steps, and a transaction snapshots whole tables and restores them when
it fails, over whatever other requests wrote meanwhile. Served from several threads, two racing
conditional writes can then both apply (a double claim, a completion overwritten by a claim). So the
server takes DynamoDB requests one at a time (`SerializedDynamoDb`); every other service stays
concurrent (an SQS long poll must not hold anything up).

Without a Docker engine moto cannot run a Lambda function, and a function it holds makes its state dump
(`/moto-api/data.json`, read by the tests for sent emails and SMS) fail as it asks each function for its
Docker client; `_without_docker_in_dumps` makes that attribute one the dump leaves out.

Stopped along with the services (honcho signals every process at once), it lingers two seconds so
that they can settle their last messages and outbox items against it before it goes.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from docker.errors import DockerException
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.utilities.docker_utilities import DockerModel
from werkzeug.serving import BaseWSGIServer, make_server

from snapinfra_shared.local import apigatewayv2_cfn  # noqa: F401 - registers AWS::ApiGatewayV2::* with moto's CloudFormation

LINGER_SECONDS = 2.0

# The X-Amz-Target prefixes of DynamoDB and of DynamoDB Streams (which reads what the writes record).
DYNAMODB_TARGETS = ("DynamoDB_", "DynamoDBStreams_")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class SerializedDynamoDb:
    """WSGI middleware: one DynamoDB request at a time, every other request passes straight through.

    The lock covers the whole response, body included, so a request's effects and its answer are
    one step, as DynamoDB makes them per item and per transaction.
    """

    def __init__(self, app: WsgiApp):
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith(DYNAMODB_TARGETS):
            return self._app(environ, start_response)
        with self._lock:
            response = self._app(environ, start_response)
            try:
                return [b"".join(response)]
            finally:
                close = getattr(response, "close", None)
                if close is not None:
                    close()


class DockerUnavailable(DockerException, AttributeError):  # type: ignore[misc]
    """No Docker engine answers: still a DockerException for moto, and an absent attribute for its state dump,
    which skips attributes that raise AttributeError."""


def _without_docker_in_dumps() -> None:
    original = DockerModel.docker_client
    assert isinstance(original, property) and original.fget is not None
    fget = original.fget

    def docker_client(self: DockerModel) -> Any:
        try:
            return fget(self)
        except DockerException as exc:
            raise DockerUnavailable(str(exc)) from exc

    DockerModel.docker_client = property(docker_client)


_without_docker_in_dumps()


def make_moto_server(port: int, host: str = "127.0.0.1") -> BaseWSGIServer:
    """moto's server app, DynamoDB serialized, served one thread per request (as moto's own server does)."""
    app = SerializedDynamoDb(DomainDispatcherApplication(create_backend_app))
    return make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)


def main(port: int) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Take SIGINT/SIGTERM synchronously: blocked before the server's threads start (they inherit
    # the mask), then awaited with sigwait. A Python handler that set an Event could deadlock if the
    # signal landed while this thread was inside Event.wait holding the Event's lock.
    stopping = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stopping)
    server = make_moto_server(port)
    threading.Thread(target=server.serve_forever, name="moto-server", daemon=True).start()
    print(f"embedded AWS (moto) listening on http://127.0.0.1:{port}", flush=True)
    signal.sigwait(stopping)
    time.sleep(LINGER_SECONDS)
    # Its state is in memory, with nothing to flush: exit at once rather than wait on the server's
    # threads, which on a loaded machine can outlast the supervisor's grace.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4566)
