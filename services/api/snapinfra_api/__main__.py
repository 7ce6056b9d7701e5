"""`snapinfra-api serve`: the HTTP API under gunicorn, with the projection consumer and the outbox
relay running beside it in the worker process."""

from __future__ import annotations

from typing import Any

import click
from gunicorn.app.base import BaseApplication

from snapinfra_api.app import create_app
from snapinfra_api.bootstrap import build_dependencies
from snapinfra_api.settings import ApiSettings
from snapinfra_shared.runtime import start_service


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
            "worker_class": "gthread",
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
