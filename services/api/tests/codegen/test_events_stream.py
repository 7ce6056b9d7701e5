"""GET /api/code-gen/:id/events: Server-Sent Events from a real server as the projection moves the job."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from snapinfra_api.app import create_app
from snapinfra_api.bootstrap import build_dependencies

from ..conftest import api_settings
from .test_codegen_api import GUIDE_REQUEST, complete, project


def read_events(response, into: list, stop_after: float = 30):
    """Parse an SSE stream into (kind, payload) tuples: ('status', job) or ('comment', text)."""
    deadline, event, data = time.monotonic() + stop_after, None, None
    for line in response.iter_lines(decode_unicode=True):
        if time.monotonic() > deadline:
            break
        if line.startswith(":"):
            into.append(("comment", line[1:].strip()))
        elif line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data = json.loads(line.split(":", 1)[1])
        elif line == "" and event:
            into.append((event, data))
            event = data = None


@pytest.fixture
def live(stack, serve):
    deps = build_dependencies(
        api_settings(stack, sse_poll_seconds=0.05, sse_heartbeat_seconds=0.2, sse_max_seconds=20, sse_max_streams=1)
    )
    with serve(create_app(dependencies=deps)) as base_url:
        yield deps, base_url


def create(base_url):
    response = requests.post(
        f"{base_url}/api/code-gen", json=GUIDE_REQUEST, headers={"x-dev-user-id": "alice"}, timeout=10
    )
    assert response.status_code == 202
    return response.json()["id"]


def test_a_client_sees_each_status_as_it_happens_then_the_stream_ends(live, stack):
    deps, base_url = live
    job_id = create(base_url)
    seen: list = []
    with requests.get(
        f"{base_url}/api/code-gen/{job_id}/events", headers={"x-dev-user-id": "alice"}, stream=True, timeout=30
    ) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert response.headers["Cache-Control"] == "no-cache"
        reader = threading.Thread(target=read_events, args=(response, seen))
        reader.start()

        def wait_for(status):
            deadline = time.monotonic() + 10
            while not any(kind == "status" and job["status"] == status for kind, job in seen):
                assert time.monotonic() < deadline, seen
                time.sleep(0.02)

        wait_for("queued")
        time.sleep(0.5)  # nothing moves for a while: heartbeats keep the connection alive
        project(deps, "CodeGenerationStarted", "alice", job_id, generator="templated", attempt=1)
        wait_for("generating")
        complete(deps, stack, "alice", job_id)
        reader.join(10)
        assert not reader.is_alive(), "the stream ends at a final status"
    statuses = [job["status"] for kind, job in seen if kind == "status"]
    assert statuses == ["queued", "generating", "completed"]
    assert ("comment", "heartbeat") in seen
    final = [job for kind, job in seen if kind == "status"][-1]
    assert final["id"] == job_id and final["fileCount"] == 3


def test_streams_are_bounded_and_a_closed_stream_frees_its_slot(live):
    _, base_url = live
    job_id = create(base_url)
    url, headers = f"{base_url}/api/code-gen/{job_id}/events", {"x-dev-user-id": "alice"}
    first = requests.get(url, headers=headers, stream=True, timeout=30)
    assert first.status_code == 200
    busy = requests.get(url, headers=headers, stream=True, timeout=30)
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "5"
    assert busy.json()["error"]["code"] == "too_many_streams"
    first.close()  # the server notices at its next heartbeat and gives the slot back
    deadline = time.monotonic() + 10
    while True:
        again = requests.get(url, headers=headers, stream=True, timeout=30)
        if again.status_code == 200:
            again.close()
            break
        assert time.monotonic() < deadline, "the slot was never freed"
        time.sleep(0.2)


def test_another_users_job_has_no_stream(live):
    _, base_url = live
    job_id = create(base_url)
    response = requests.get(f"{base_url}/api/code-gen/{job_id}/events", headers={"x-dev-user-id": "bob"}, timeout=10)
    assert response.status_code == 404


def test_a_stream_ends_after_its_time_limit(stack, serve):
    deps = build_dependencies(api_settings(stack, sse_poll_seconds=0.05, sse_max_seconds=0.5))
    with serve(create_app(dependencies=deps)) as base_url:
        job_id = create(base_url)
        seen: list = []
        started = time.monotonic()
        with requests.get(
            f"{base_url}/api/code-gen/{job_id}/events", headers={"x-dev-user-id": "alice"}, stream=True, timeout=10
        ) as response:
            read_events(response, seen)
        assert time.monotonic() - started < 5
    assert seen[0][0] == "status" and seen[0][1]["status"] == "queued"
    assert seen[-1][0] == "comment" and "reconnect" in seen[-1][1]


def test_the_client_polls_while_every_stream_slot_is_taken_then_sees_the_job_complete(live, stack):
    """The `snapinfra` client's fallback: a 503 with Retry-After means poll the job until then."""
    from snapinfra_cli.client import Api
    from snapinfra_cli.main import _follow

    deps, base_url = live
    holder, followed = create(base_url), create(base_url)
    with requests.get(
        f"{base_url}/api/code-gen/{holder}/events", headers={"x-dev-user-id": "alice"}, stream=True, timeout=30
    ) as taken:
        assert taken.status_code == 200  # the only slot (sse_max_streams=1) is held by this stream
        refused = requests.get(f"{base_url}/api/code-gen/{followed}/events", headers={"x-dev-user-id": "alice"})
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
        finisher = threading.Timer(1.5, complete, args=(deps, stack, "alice", followed))
        finisher.start()
        job = _follow(
            Api(base_url, dev_user="alice"),
            requests.get(f"{base_url}/api/code-gen/{followed}", headers={"x-dev-user-id": "alice"}, timeout=10).json(),
            quiet=True,
        )
        finisher.join()
    assert job["status"] == "completed"  # followed to the end without ever getting a stream slot
