"""The api as `snapinfra-api serve` runs it (gunicorn, its worker, its limits) on a loopback port: what gunicorn
answers itself and what only a real server sends (a chunked body) is the api's JSON error too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from snapinfra_shared.local.embedded import free_port

HEADERS = {"x-dev-user-id": "alice"}


@pytest.fixture
def served(stack, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = os.environ | {
        "SNAPINFRA_PREFIX": stack.prefix,
        "SNAPINFRA_AUTH_MODE": "dev",
        "SNAPINFRA_S3_ADDRESSING_STYLE": "path",
        "SNAPINFRA_STARTUP_TIMEOUT_SECONDS": "10",
        "SNAPINFRA_SHUTDOWN_GRACE_SECONDS": "1",
        "SNAPINFRA_HTTP_THREADS": "4",
    }
    runner = str(Path(sys.executable).parent / "snapinfra-api")
    with (tmp_path / "api.log").open("wb") as log:
        process = subprocess.Popen(
            [runner, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, (tmp_path / "api.log").read_text()
                try:
                    if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass  # not listening yet
                assert time.monotonic() < deadline, (tmp_path / "api.log").read_text()
                time.sleep(0.2)
            yield base
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _json_error(response: requests.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text[:300]
    assert response.headers["Content-Type"] == "application/json", response.text[:300]
    error = response.json()["error"]
    assert error["code"] == code and error["fields"] == []
    return str(error["message"])


def test_gunicorn_refusals_and_chunked_bodies_are_json_errors(served):
    """A request line or a header over gunicorn's limits, and a chunked body over MAX_CONTENT_LENGTH."""
    long_query = requests.get(f"{served}/api/code-gen?projectId={'a' * 5000}", headers=HEADERS, timeout=30)
    assert "Request Line is too large" in _json_error(long_query, 414, "uri_too_long")

    big_header = requests.get(f"{served}/api/code-gen", headers={**HEADERS, "X-Big": "b" * 9000}, timeout=30)
    _json_error(big_header, 431, "headers_too_large")

    def chunks(total: int) -> Iterator[bytes]:
        yield b'{"projectId": "p", "type": "api", "prompt": "'
        for _ in range(total // 65536):
            yield b"x" * 65536
        yield b'"}'

    body = {"Content-Type": "application/json", **HEADERS}
    too_big = requests.post(f"{served}/api/code-gen", data=chunks(10 * 1024 * 1024), headers=body, timeout=60)
    assert "larger than the limit of 262144 bytes" in _json_error(too_big, 413, "payload_too_large")

    # a chunked body under the limit is read whole: it reaches validation (the prompt is too long, 422)
    fits = requests.post(f"{served}/api/code-gen", data=chunks(128 * 1024), headers=body, timeout=60)
    assert fits.status_code == 422 and fits.json()["error"]["fields"][0]["field"] == "prompt", fits.text[:300]

    assert requests.get(f"{served}/api/code-gen", headers=HEADERS, timeout=30).status_code == 200  # still serving
