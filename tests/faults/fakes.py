"""The two loopback servers the fault suite runs beside the system: a slow OpenAI-compatible code
model (so that a kill lands mid-generation) and a webhook receiver that verifies signatures and counts
completion notifications per job."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

_PROJECT_NAME = re.compile(r"Project name: (\S+)")


def project_files(name: str) -> dict[str, str]:
    """A small valid project, as the LLM generator's validation accepts it."""
    package = name.replace("-", "_")
    return {
        f"{name}/README.md": f"# {name}\n\nRun `pytest`.\n",
        f"{name}/requirements.txt": "flask>=3\npytest>=8\n",
        f"{name}/{package}/__init__.py": "",
        f"{name}/{package}/app.py": "from flask import Flask\n\n\ndef create_app():\n    return Flask(__name__)\n",
        f"{name}/tests/test_app.py": "def test_ok():\n    assert 1 + 1 == 2\n",
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: Any


class SlowModel:
    """Answers chat completions with a valid project after `delay` seconds (settable while running)."""

    def __init__(self, delay: float):
        self.delay = delay
        self.requests = 0  # requests received
        self._active: set[int] = set()  # numbers of the requests not answered yet
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _ModelHandler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="slow-model", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def wait_in_flight(self, since: int, timeout: float) -> bool:
        """True once a request numbered above `since` is being answered (a generation is under way)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if any(number > since for number in self._active):
                    return True
            time.sleep(0.05)
        return False

    def _answer(self, body: dict[str, Any]) -> bytes:
        with self._lock:
            self.requests += 1
            number = self.requests
            self._active.add(number)
        try:
            self._closing.wait(self.delay)
            user = next(m["content"] for m in body["messages"] if m["role"] == "user")
            match = _PROJECT_NAME.search(user)
            name = match.group(1) if match else "project"
            files = [{"path": p, "content": c} for p, c in project_files(name).items()]
            answer = {
                "id": f"chatcmpl-{uuid.uuid4().hex}",
                "object": "chat.completion",
                "model": body.get("model", "faults"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": json.dumps({"files": files})},
                        "finish_reason": "stop",
                    }
                ],
            }
            return json.dumps(answer).encode()
        finally:
            with self._lock:
                self._active.discard(number)

    def __enter__(self) -> SlowModel:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


class _ModelHandler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer = self.server.owner._answer(body)
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
        except OSError:
            pass  # the codegen process that asked was killed meanwhile

    def log_message(self, *args: object) -> None:
        pass


class WebhookReceiver:
    """Receives the notifier's webhooks, verifies each signature with `standardwebhooks`, and counts
    `codegen.completed` notifications per job and their distinct `webhook-id`s."""

    def __init__(self) -> None:
        self.secret: str | None = None
        self.completions: dict[str, list[str]] = defaultdict(list)  # job id -> webhook-ids, one per delivery
        self.other = 0  # verified deliveries of other kinds
        self.invalid = 0  # deliveries whose signature did not verify
        self.last_at = time.monotonic()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _HookHandler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhooks", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def _receive(self, headers: dict[str, str], body: bytes) -> int:
        if self.secret is None:
            return 503
        try:
            payload = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            with self._lock:
                self.invalid += 1
            return 401
        with self._lock:
            self.last_at = time.monotonic()
            if payload.get("kind") == "codegen.completed":
                self.completions[str(payload["data"]["job_id"])].append(headers.get("webhook-id", ""))
            else:
                self.other += 1
        return 204

    def snapshot(self) -> dict[str, list[str]]:
        with self._lock:
            return {job: list(ids) for job, ids in self.completions.items()}

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


class _HookHandler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        status = self.server.owner._receive({k.lower(): v for k, v in self.headers.items()}, body)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass
