"""The Flask application factory."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import IO

from flask import Flask, Request, Response, g, request
from opentelemetry import trace
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream

from snapinfra_api.admin import routes as admin
from snapinfra_api.bootstrap import ApiDependencies, build_dependencies
from snapinfra_api.codegen import routes as codegen
from snapinfra_api.deployments import routes as deployments
from snapinfra_api.http import docs, health
from snapinfra_api.http.errors import register_error_handlers
from snapinfra_api.http.request import JsonBodies
from snapinfra_api.notifications import routes as notifications
from snapinfra_api.settings import ApiSettings
from snapinfra_shared import tracing
from snapinfra_shared.logs import bind_context, reset_context
from snapinfra_shared.metrics import HTTP_REQUESTS, HTTP_SECONDS

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})  # probes and scrapes: access-logged at DEBUG only
access_log = logging.getLogger("snapinfra.access")


class _BodyLimit(LimitedStream):
    """A body without Content-Length (chunked) read up to MAX_CONTENT_LENGTH: werkzeug stops at the limit and
    hands the view the body cut short (then "invalid JSON"); this looks one byte further, and more body is 413."""

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted and self._stream.read(1):
            raise RequestEntityTooLarge()
        return data


class BoundedRequest(Request):
    """A request whose body is refused with 413 past MAX_CONTENT_LENGTH, whether or not it has a Content-Length."""

    @cached_property
    def stream(self) -> IO[bytes]:
        limit = self.max_content_length
        if self.content_length is None and limit is not None and "wsgi.input_terminated" in self.environ:
            return _BodyLimit(self.environ["wsgi.input"], limit, is_max=True)  # type: ignore[return-value]
        return super().stream


def create_app(settings: ApiSettings | None = None, dependencies: ApiDependencies | None = None) -> Flask:
    settings = settings or (dependencies.settings if dependencies else ApiSettings())
    app = Flask("snapinfra_api")
    app.request_class = BoundedRequest
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json = JsonBodies(app, settings.max_json_depth)
    app.json.sort_keys = False
    app.extensions["snapinfra"] = dependencies or build_dependencies(settings)
    register_error_handlers(app)
    if tracing.enabled():  # first, so that the request's span is current in the hooks below
        from opentelemetry.instrumentation.flask import FlaskInstrumentor

        FlaskInstrumentor().instrument_app(  # type: ignore[no-untyped-call]
            app, tracer_provider=tracing.provider(), excluded_urls=",".join(sorted(QUIET_ROUTES))
        )

    @app.before_request
    def _request_id() -> None:
        g.started = time.perf_counter()
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if REQUEST_ID.match(given) else str(uuid.uuid4())
        g.log_token = bind_context(correlation_id=g.request_id)
        trace.get_current_span().set_attribute("snapinfra.request_id", g.request_id)

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.get("request_id", "")
        _access(response)
        return response

    @app.teardown_request
    def _forget_request_id(_exc: BaseException | None) -> None:
        token = g.pop("log_token", None)
        if token is not None:
            reset_context(token)

    app.register_blueprint(health.bp)
    app.register_blueprint(codegen.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(docs.bp)
    app.register_blueprint(notifications.bp)
    app.register_blueprint(deployments.bp)
    return app


def _access(response: Response) -> None:
    """The access-log line and the HTTP metrics of one answer (for a stream: when its first byte goes)."""
    seconds = time.perf_counter() - g.get("started", time.perf_counter())
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
    HTTP_SECONDS.labels(request.method, route).observe(seconds)
    principal = g.get("principal")
    access_log.log(
        logging.DEBUG if route in QUIET_ROUTES else logging.INFO,
        "request",
        extra={
            "method": request.method,
            "route": route,
            "status": response.status_code,
            "ms": round(seconds * 1000, 1),
            "user_id": principal.user_id if principal is not None else None,
        },
    )
