"""Fixtures every test folder shares: an embedded AWS (a moto server on loopback, one per test
session) and, per test, the whole topology provisioned under a prefix of its own."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.httpsession import URLLib3Session

from snapinfra_shared.aws import AwsClients
from snapinfra_shared.local.embedded import EmbeddedAws
from snapinfra_shared.provision import provision
from snapinfra_shared.topology import Topology, build_topology


@pytest.fixture(scope="session")
def aws_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with EmbeddedAws(log_path=str(log)) as aws:
        saved = {k: os.environ.get(k) for k in aws.env()}
        os.environ.update(aws.env())
        try:
            yield aws.url
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@dataclass
class Stack:
    prefix: str
    topology: Topology
    clients: AwsClients
    provisioned: dict[str, Any]

    def queue_url(self, service: str, dlq: bool = False) -> str:
        spec = self.topology.queues[service]  # type: ignore[index]
        name = spec.dlq_name if dlq else spec.name
        return str(self.clients.sqs.get_queue_url(QueueName=name)["QueueUrl"])

    def drain(self, service: str, dlq: bool = False, wait: int = 1) -> list[dict[str, Any]]:
        """Every message now in a queue (received once, then deleted)."""
        url, found = self.queue_url(service, dlq), []
        while True:
            response = self.clients.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=wait,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
            )
            messages = response.get("Messages", [])
            if not messages:
                return found
            found += messages
            self.clients.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )


@pytest.fixture
def stack(aws_endpoint: str) -> Stack:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    topology = build_topology(prefix)
    clients = AwsClients(s3_addressing_style="path")
    return Stack(prefix, topology, clients, provision(clients, topology))


@contextmanager
def _serving(app: Any) -> Iterator[str]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


class ManualClock:
    """Seconds since the epoch that move only when a test moves them (starting at the real time, so that
    what is signed with it, such as a webhook's timestamp, is still current)."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


class LostAnswers:
    """A fault DynamoDB clients meet in production: the write is applied, its answer is lost (a read
    timeout), and botocore's retry sends it again. Armed on a real client, the next `operation` (after
    letting `after` of them through) goes to the server for real, then fails as a timed-out read, so
    botocore retries it as it would."""

    def __init__(self) -> None:
        self._armed: list[tuple[Any, str, Callable[..., Any]]] = []
        self._session = URLLib3Session()
        self.lost: list[str] = []  # the operations whose answer was lost, so a test sees the fault happen

    def arm(self, client: Any, operation: str, *, after: int = 0) -> None:
        event = f"before-send.{client.meta.service_model.service_id.hyphenize()}.{operation}"
        sends, lock = [0], threading.Lock()

        def lose_the_answer(request: Any, **_: Any) -> None:
            with lock:
                sends[0] += 1
                this = sends[0]
            if this != after + 1:
                return  # botocore sends it (or the retry) itself
            self._session.send(request)  # applied on the server; its answer goes nowhere
            self.lost.append(operation)
            raise ReadTimeoutError(endpoint_url=request.url)

        client.meta.events.register_first(event, lose_the_answer)
        self._armed.append((client, event, lose_the_answer))

    def close(self) -> None:
        for client, event, handler in self._armed:
            client.meta.events.unregister(event, handler)
        self._session.close()


@pytest.fixture
def lost_answers() -> Iterator[LostAnswers]:
    faults = LostAnswers()
    yield faults
    faults.close()


@pytest.fixture
def serve() -> Callable[[Any], AbstractContextManager[str]]:
    """Serve a WSGI app over real HTTP on a free loopback port: `with serve(app) as base_url: ...`."""
    return _serving
