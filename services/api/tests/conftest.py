from __future__ import annotations

import pytest

from snapinfra_api.app import create_app
from snapinfra_api.bootstrap import build_dependencies
from snapinfra_api.settings import ApiSettings

from .fakes import FakePorts


def api_settings(stack, **overrides) -> ApiSettings:
    return ApiSettings(
        auth_mode="dev", prefix=stack.prefix, s3_addressing_style="path", startup_timeout_seconds=5, **overrides
    )


def fake_settings(**overrides) -> ApiSettings:
    """Settings for an app over the in-memory ports (no embedded AWS)."""
    return ApiSettings(**{"auth_mode": "dev", **overrides})


@pytest.fixture
def fake_ports(clock) -> FakePorts:
    return FakePorts(fake_settings(), clock)


@pytest.fixture
def deps(stack):
    return build_dependencies(api_settings(stack))


@pytest.fixture
def app(deps):
    return create_app(ports=deps)


@pytest.fixture
def client(app):
    return app.test_client()


class As:
    """A test client that calls as one user."""

    def __init__(self, client, user: str):
        self.client, self.user = client, user

    def __getattr__(self, method):
        def call(path, **kwargs):
            headers = {"x-dev-user-id": self.user, **kwargs.pop("headers", {})}
            return getattr(self.client, method)(path, headers=headers, **kwargs)

        return call


@pytest.fixture
def alice(client):
    return As(client, "alice")


@pytest.fixture
def bob(client):
    return As(client, "bob")
