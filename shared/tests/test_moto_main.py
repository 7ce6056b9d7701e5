"""The embedded AWS's serialization: one DynamoDB request at a time, every other service concurrent."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from snapinfra_shared.local.moto_main import SerializedDynamoDb

WAIT = 10.0  # a bound on each wait; none is reached when the middleware behaves


class HeldApp:
    """A WSGI app that, per request, records that it entered and then waits until released."""

    def __init__(self) -> None:
        self.entered: dict[str, threading.Event] = {}
        self.release: dict[str, threading.Event] = {}
        self.closed: list[str] = []

    def expect(self, name: str) -> None:
        self.entered[name], self.release[name] = threading.Event(), threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        name = environ["name"]
        self.entered[name].set()
        assert self.release[name].wait(WAIT), f"{name} was never released"
        start_response("200 OK", [("Content-Type", "application/json")])
        return self._body(name)

    def _body(self, name: str) -> Iterator[bytes]:
        try:
            yield b'{"request": '
            yield f'"{name}"}}'.encode()
        finally:
            self.closed.append(name)


def _request(app: SerializedDynamoDb, name: str, target: str | None, answers: dict[str, bytes]) -> threading.Thread:
    environ = {"name": name, **({"HTTP_X_AMZ_TARGET": target} if target else {})}

    def run() -> None:
        answers[name] = b"".join(app(environ, lambda status, headers: None))

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread


def test_dynamodb_requests_wait_for_each_other_and_others_pass_by() -> None:
    inner = HeldApp()
    app, answers = SerializedDynamoDb(inner), {}
    for name in ("update", "stream", "receive"):
        inner.expect(name)

    update = _request(app, "update", "DynamoDB_20120810.UpdateItem", answers)
    assert inner.entered["update"].wait(WAIT)
    stream = _request(app, "stream", "DynamoDBStreams_20120810.GetRecords", answers)
    receive = _request(app, "receive", "AmazonSQS.ReceiveMessage", answers)
    inner.release["receive"].set()
    receive.join(WAIT)
    # SQS went through while the update held the lock; the stream read is still waiting for it.
    assert answers.get("receive") == b'{"request": "receive"}'
    assert not inner.entered["stream"].is_set()

    inner.release["update"].set()
    assert inner.entered["stream"].wait(WAIT)
    inner.release["stream"].set()
    for thread in (update, stream):
        thread.join(WAIT)
    assert answers == {name: f'{{"request": "{name}"}}'.encode() for name in ("update", "stream", "receive")}
    assert sorted(inner.closed) == ["receive", "stream", "update"]  # every body closed, as WSGI requires


def test_the_state_dump_still_answers_once_a_lambda_function_exists_without_docker(aws_endpoint: str) -> None:
    """A function moto holds would make /moto-api/data.json a 500 (it asks for a Docker client); the tests read
    sent emails and SMS from that dump, so it must keep answering, Lambda functions or not."""
    import io
    import json
    import uuid
    import zipfile

    import boto3
    import requests

    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    name = f"dump-{uuid.uuid4().hex[:8]}"
    role = boto3.client("iam", endpoint_url=aws_endpoint).create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )["Role"]["Arn"]
    boto3.client("lambda", endpoint_url=aws_endpoint).create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="handler.handler", Code={"ZipFile": code.getvalue()}
    )
    answer = requests.get(f"{aws_endpoint}/moto-api/data.json", timeout=30)
    assert answer.status_code == 200, answer.text[:500]
    assert any(f.get("function_name") == name for f in answer.json()["awslambda"]["LambdaFunction"])
