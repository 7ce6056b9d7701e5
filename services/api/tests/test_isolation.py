"""Every route, walked as a second user, shows nothing of the first user's.

The routes are enumerated from the app's url_map, so a route added later is walked too. Each seeder
makes one kind of resource for the first user and says which ids to try in the path and which
markers (text only that user's resource holds) must never reach the second user. A new kind of
resource adds a seeder here.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from snapinfra_api.app import create_app
from snapinfra_api.bootstrap import build_dependencies

from .conftest import As, api_settings
from .test_codegen_api import complete


@dataclass
class Seeded:
    ids: list[str]
    markers: list[bytes]
    query: dict[str, str]
    still_there: Callable[[], bool]


def seed_code_generation(owner, deps, stack) -> Seeded:
    marker = "zqxj-owner-only-marker"
    job = owner.post(
        "/api/code-gen",
        json={"projectId": "owner-project-7", "type": "api", "prompt": f"a shop with products {marker}"},
    ).json
    complete(deps, stack, "owner", job["id"], content=b"PK zip-only-the-owner-may-read")
    return Seeded(
        ids=[job["id"]],
        markers=[marker.encode(), b"zip-only-the-owner-may-read", job["createdAt"].encode()],
        query={"projectId": "owner-project-7"},
        still_there=lambda: owner.get(f"/api/code-gen/{job['id']}").status_code == 200,
    )


SEEDERS = [seed_code_generation]


@pytest.fixture
def walk_app(stack):
    deps = build_dependencies(api_settings(stack, sse_max_seconds=1, sse_poll_seconds=0.1))
    return deps, create_app(dependencies=deps)


def test_every_route_as_another_user_finds_nothing_of_the_owners(walk_app, stack):
    deps, app = walk_app
    owner, other = As(app.test_client(), "owner"), As(app.test_client(), "other")
    seeded = [seed(owner, deps, stack) for seed in SEEDERS]
    ids = [i for s in seeded for i in s.ids]
    markers = [m for s in seeded for m in s.markers]
    query = {k: v for s in seeded for k, v in s.query.items()}
    walked = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for values in itertools.product(ids, repeat=len(rule.arguments)):
                path = app.url_map.bind("localhost").build(
                    rule.endpoint, dict(zip(sorted(rule.arguments), values, strict=True))
                )
                call = getattr(other, method.lower())
                # The listing filters go to the listings; a route of one resource may refuse them (400) whoever asks.
                listing = {} if rule.arguments else query
                kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {"query_string": listing}
                response = call(path, **kwargs)
                body = response.get_data()
                walked.append((method, rule.rule, response.status_code))
                leaked = [m for m in markers if m in body]
                assert leaked == [], f"{method} {path} as another user answered {response.status_code} with {leaked}"
                assert response.status_code < 500, f"{method} {path}: {response.status_code} {body[:300]!r}"
                if rule.arguments and method != "POST":
                    assert response.status_code in (403, 404), (
                        f"{method} {path} as another user: {response.status_code}"
                    )
    assert all(s.still_there() for s in seeded), "another user's DELETE removed the owner's resource"
    assert {r for _, r, _ in walked} >= {"/api/code-gen", "/api/code-gen/<job_id>", "/api/code-gen/<job_id>/download"}
    # The owner does see them: the markers are real.
    assert markers[0] in owner.get("/api/code-gen").get_data()
