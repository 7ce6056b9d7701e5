from __future__ import annotations

import json
import logging
import socket
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import boto3
import pytest
import requests
from botocore.config import Config

from snapinfra_codegen.generators.base import GeneratedProject, GenerationError, GenerationRequest
from snapinfra_codegen.generators.llm import (
    BedrockConverseGenerator,
    OpenAICompatibleGenerator,
    TransientGeneratorError,
    build_messages,
    parse_project,
    with_template_path,
)
from snapinfra_codegen.generators.validation import ProjectLimits, validate_project
from snapinfra_shared.spec import ProjectSpec

API_KEY = "sk-test-SECRET-0123456789"
MODEL = "test-model"
BEDROCK_MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"

SPEC = ProjectSpec.model_validate(
    {
        "entities": [
            {
                "name": "Customer",
                "fields": [
                    {"name": "email", "type": "email"},
                    {"name": "nickname", "type": "string", "required": False, "max_length": 40},
                ],
            },
            {
                "name": "Order",
                "fields": [
                    {"name": "total", "type": "number"},
                    {"name": "placed_on", "type": "date"},
                ],
            },
        ]
    }
)


def make_request(project_type: str = "api") -> GenerationRequest:
    return GenerationRequest(
        project_type=project_type,  # type: ignore[arg-type]
        prompt="An online shop with customers and orders",
        spec=SPEC,
        project_name="shop",
    )


GOOD_FILES = {
    "shop/README.md": "# Shop\n\nRun `pytest`.\n",
    "shop/requirements.txt": "flask>=3\npytest>=8\n",
    "shop/shop/__init__.py": "",
    "shop/shop/app.py": "from flask import Flask\n\n\ndef create_app():\n    return Flask(__name__)\n",
    "shop/tests/test_app.py": "def test_ok():\n    assert 'é' == '\\u00e9'\n",
    "shop/template.yaml": "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n",
}


def answer_json(files: dict[str, str] = GOOD_FILES) -> str:
    return json.dumps({"files": [{"path": path, "content": content} for path, content in files.items()]})


def expected_project(files: dict[str, str] = GOOD_FILES, template_path: str | None = None) -> GeneratedProject:
    return GeneratedProject(
        files={path: content.encode("utf-8") for path, content in files.items()}, template_path=template_path
    )


# ------------------------------------------------------------------------------------------ fake server


@dataclass
class Canned:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


class FakeServer:
    """Records requests and answers each with the next canned response."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.responses: deque[Canned] = deque()
        self.release = threading.Event()  # set at teardown to wake handlers that are "slow"
        self.url = ""

    def answer(self, *responses: Canned) -> None:
        self.responses.extend(responses)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        fake.requests.append(Recorded("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        canned = fake.responses.popleft() if fake.responses else Canned(500, b'{"error": "no canned response"}')
        if canned.delay:
            fake.release.wait(canned.delay)
        try:
            self.send_response(canned.status)
            headers = {"Content-Type": "application/json", **canned.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(canned.body)))
            self.end_headers()
            self.wfile.write(canned.body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # so server_close() joins the handler threads
    block_on_close = True

    def __init__(self, fake: FakeServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    fake = FakeServer()
    server = _Server(fake)
    host, port = server.server_address[:2]
    fake.url = f"http://{host}:{port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def chat_completion(content: str | None, finish_reason: str = "stop") -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": MODEL,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish_reason}
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        }
    ).encode()


def openai(fake: FakeServer, session: requests.Session, **kwargs: object) -> OpenAICompatibleGenerator:
    options: dict = {"api_key": API_KEY, "timeout": 5.0, "session": session} | kwargs
    return OpenAICompatibleGenerator(fake.url + "/v1/", MODEL, **options)


# ------------------------------------------------------------------------------------------ prompt


@pytest.mark.parametrize("project_type", ["api", "model", "infra", "full-stack"])
def test_prompt_lists_type_entities_and_fields(project_type: str) -> None:
    messages = build_messages(make_request(project_type))
    assert '{"files": [{"path"' in messages.system
    assert f"Project type: {project_type}" in messages.user
    assert '"shop/"' in messages.user
    assert "An online shop with customers and orders" in messages.user
    for needle in (
        "Customer",
        "Order",
        "email: email, required",
        "nickname: string, optional, max_length 40",
        "total: number, required",
        "placed_on: date, required",
    ):
        assert needle in messages.user
    if project_type in ("infra", "full-stack"):
        assert "template.yaml" in messages.user
        assert "DynamoDB" in messages.user
    if project_type in ("api", "full-stack"):
        assert "Flask" in messages.user
        assert "Dockerfile" in messages.user
    if project_type == "model":
        assert "pydantic" in messages.user


V2_SPEC = {
    "entities": [
        {"name": "Author", "fields": [{"name": "email", "type": "email", "unique": True, "min_length": 6}]},
        {
            "name": "Book",
            "fields": [
                {"name": "author_id", "type": "reference", "references": "Author", "on_delete": "cascade"},
                {"name": "price", "type": "decimal", "minimum": 0, "maximum": 500},
                {"name": "status", "type": "enum", "values": ["available", "lost"], "default": "available"},
                {"name": "tags", "type": "list", "items": "string", "max_items": 5, "required": False},
            ],
        },
    ]
}


@pytest.mark.parametrize("project_type", ["api", "model", "full-stack"])
def test_prompt_describes_every_v2_rule(project_type: str) -> None:
    """References, enums, unique fields, bounds, defaults and decimals reach the model, with what they mean."""
    request = GenerationRequest(project_type, "A library", ProjectSpec.model_validate(V2_SPEC), "library")
    user = build_messages(request).user
    for needle in (
        "email: email, required, unique, min_length 6",
        "author_id: reference to Author (on delete: cascade), required",
        "price: decimal, required, minimum 0, maximum 500",
        'status: enum of "available", "lost", required, default "available"',
        "tags: list of string, optional, max_items 5",
    ):
        assert needle in user
    if project_type == "model":
        assert "a decimal is a Decimal, never a float" in user
    else:
        assert "422 naming the field" in user and "409" in user and "cascade" in user
        assert "creation order" in user


# ------------------------------------------------------------------------------------------ parser


def test_parse_plain_json() -> None:
    assert parse_project(answer_json()) == expected_project()


def test_parse_fenced_json_with_prose_and_fences_inside_content() -> None:
    files = GOOD_FILES | {"shop/README.md": "# Shop\n\n```bash\npytest\n```\n"}
    text = f"Sure! Here is the project:\n\n```json\n{answer_json(files)}\n```\n\nEnjoy {{:}}"
    assert parse_project(text) == expected_project(files)


def test_parse_tolerates_raw_newlines_in_strings() -> None:
    text = '{"files": [{"path": "shop/a.py", "content": "x = 1\ny = 2\n"}]}'
    assert parse_project(text).files == {"shop/a.py": b"x = 1\ny = 2\n"}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("I cannot help with that.", "no JSON object"),
        ("[1, 2]", "got a JSON list"),
        ('{"project": []}', "files: Field required"),
        ('{"files": "shop/a.py"}', "unexpected shape"),
        ('{"files": [{"path": "shop/a.py"}]}', r"files\.0\.content: Field required"),
        ('{"files": [{"path": "shop/a.py", "content": 1}]}', "unexpected shape"),
        ('{"files": []}', "no files"),
        ('{"files": [{"path": "shop/a", "content": ""}, {"path": "shop/a", "content": ""}]}', "appears twice"),
        ('{"files": [{"path": "shop/a", "content": "\\ud800"}]}', "not valid Unicode"),
        ('{"files": [{"path": "shop/a", "content": "unterminated', "no JSON object"),
    ],
)
def test_parse_refuses_malformed_answers(text: str, reason: str) -> None:
    with pytest.raises(GenerationError, match=f"the model's answer was not a project: .*{reason}"):
        parse_project(text)


# ------------------------------------------------------------------------------------------ OpenAI


def test_openai_good_project(fake: FakeServer, session: requests.Session) -> None:
    fake.answer(Canned(body=chat_completion(answer_json())))
    project = openai(fake, session).generate(make_request("full-stack"))

    # The prompt asks for the template at the project's root: the generator says so (the artifact carries it).
    assert project == expected_project(template_path="shop/template.yaml")
    validate_project(project, "shop", ProjectLimits())
    [recorded] = fake.requests
    assert recorded.path == "/v1/chat/completions"
    assert recorded.headers["authorization"] == f"Bearer {API_KEY}"
    assert recorded.headers["content-type"] == "application/json"
    body = recorded.json()
    assert body["model"] == MODEL
    assert body["temperature"] == 0
    assert body["response_format"] == {"type": "json_object"}
    assert [message["role"] for message in body["messages"]] == ["system", "user"]
    user = body["messages"][1]["content"]
    assert "full-stack" in user
    for entity in ("Customer", "Order"):
        assert entity in user
    assert "An online shop with customers and orders" in user


def test_openai_without_key_sends_no_authorization(fake: FakeServer, session: requests.Session) -> None:
    fake.answer(Canned(body=chat_completion(answer_json())))
    generator = OpenAICompatibleGenerator(fake.url, MODEL, session=session, timeout=5)
    assert generator.name == "openai"
    generator.generate(make_request())
    assert fake.requests[0].path == "/chat/completions"
    assert "authorization" not in fake.requests[0].headers


def test_openai_owns_and_closes_its_session(fake: FakeServer) -> None:
    fake.answer(Canned(body=chat_completion(answer_json())))
    with OpenAICompatibleGenerator(fake.url, MODEL, api_key=API_KEY, timeout=5) as generator:
        assert generator.generate(make_request()) == expected_project()
        assert API_KEY not in repr(generator)


def test_openai_fenced_json(fake: FakeServer, session: requests.Session) -> None:
    fake.answer(Canned(body=chat_completion(f"Here you go:\n```json\n{answer_json()}\n```")))
    assert openai(fake, session).generate(make_request()) == expected_project()


@pytest.mark.parametrize("content", ["Sorry, I can't do that.", "{not json", "", None])
def test_openai_garbage_answer(fake: FakeServer, session: requests.Session, content: str | None) -> None:
    fake.answer(Canned(body=chat_completion(content)))
    with pytest.raises(GenerationError, match="the model's answer was not a project"):
        openai(fake, session).generate(make_request())


def test_openai_cut_off_answer(fake: FakeServer, session: requests.Session) -> None:
    fake.answer(Canned(body=chat_completion('{"files": [', finish_reason="length")))
    with pytest.raises(GenerationError, match="cut off"):
        openai(fake, session).generate(make_request())


def test_openai_non_json_response(fake: FakeServer, session: requests.Session) -> None:
    fake.answer(Canned(body=b"<html>hello</html>", headers={"Content-Type": "text/html"}))
    with pytest.raises(GenerationError, match="did not answer with JSON"):
        openai(fake, session).generate(make_request())


def test_openai_unexpected_response_shape(fake: FakeServer, session: requests.Session) -> None:
    fake.answer(Canned(body=b'{"choices": []}'))
    with pytest.raises(GenerationError, match="unexpected response"):
        openai(fake, session).generate(make_request())


def test_bad_model_output_is_caught_by_validation(fake: FakeServer, session: requests.Session) -> None:
    files = GOOD_FILES | {"../escape.py": "x = 1\n", "shop/shop/broken.py": "def f(:\n"}
    fake.answer(Canned(body=chat_completion(answer_json(files))))
    project = openai(fake, session).generate(make_request())
    with pytest.raises(GenerationError, match="not allowed"):
        validate_project(project, "shop", ProjectLimits())

    files = GOOD_FILES | {"shop/shop/broken.py": "x = 1\n\ndef f(:\n"}
    fake.answer(Canned(body=chat_completion(answer_json(files))))
    project = openai(fake, session).generate(make_request())
    with pytest.raises(GenerationError, match=r"'shop/shop/broken.py' is not valid Python: .* line 3"):
        validate_project(project, "shop", ProjectLimits())


def test_openai_401_does_not_leak_key(
    fake: FakeServer, session: requests.Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    error = {"error": {"message": f"Incorrect API key provided: {API_KEY}", "type": "invalid_request_error"}}
    fake.answer(Canned(401, json.dumps(error).encode()))
    with pytest.raises(GenerationError, match=r"rejected the credentials \(HTTP 401\)") as caught:
        openai(fake, session).generate(make_request())
    assert API_KEY not in str(caught.value)
    assert "***" in str(caught.value)
    assert API_KEY not in caplog.text
    assert caught.value.__cause__ is None


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (400, r"rejected the request \(HTTP 400\): context length exceeded"),
        (403, r"refused access .* \(HTTP 403\)"),
        (404, r"not found .* \(HTTP 404\)"),
        (413, r"rejected the request \(HTTP 413\)"),
    ],
)
def test_openai_permanent_http_errors(fake: FakeServer, session: requests.Session, status: int, reason: str) -> None:
    fake.answer(Canned(status, b'{"error": {"message": "context length exceeded"}}'))
    with pytest.raises(GenerationError, match=reason) as caught:
        openai(fake, session).generate(make_request())
    assert API_KEY not in str(caught.value)


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_openai_transient_http_errors(fake: FakeServer, session: requests.Session, status: int) -> None:
    fake.answer(Canned(status, b'{"error": {"message": "try again later"}}'))
    with pytest.raises(TransientGeneratorError, match=f"HTTP {status}") as caught:
        openai(fake, session).generate(make_request())
    assert not isinstance(caught.value, GenerationError)
    assert API_KEY not in str(caught.value)


def test_openai_timeout_is_transient(fake: FakeServer, session: requests.Session) -> None:
    fake.answer(Canned(body=chat_completion(answer_json()), delay=5))
    with pytest.raises(TransientGeneratorError, match=r"did not answer within 0\.2 seconds") as caught:
        openai(fake, session, timeout=0.2).generate(make_request())
    assert API_KEY not in str(caught.value)


def test_openai_connection_refused_is_transient(session: requests.Session) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    generator = OpenAICompatibleGenerator(f"http://127.0.0.1:{port}", MODEL, api_key=API_KEY, session=session)
    with pytest.raises(TransientGeneratorError, match="could not connect") as caught:
        generator.generate(make_request())
    assert API_KEY not in str(caught.value)


# ------------------------------------------------------------------------------------------ Bedrock


@pytest.fixture
def bedrock_client(fake: FakeServer) -> Iterator[object]:
    client = boto3.client(
        "bedrock-runtime",
        endpoint_url=fake.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=2, read_timeout=0.5),
    )
    try:
        yield client
    finally:
        client.close()


def converse_response(text: str, stop_reason: str = "end_turn") -> bytes:
    return json.dumps(
        {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": stop_reason,
            "usage": {"inputTokens": 10, "outputTokens": 10, "totalTokens": 20},
            "metrics": {"latencyMs": 1},
        }
    ).encode()


def bedrock_error(code: str, status: int, message: str = "something happened") -> Canned:
    return Canned(status, json.dumps({"message": message}).encode(), headers={"x-amzn-ErrorType": f"{code}:http://x"})


def test_bedrock_good_project(fake: FakeServer, bedrock_client: object) -> None:
    text = answer_json()
    half = len(text) // 2
    body = json.loads(converse_response(""))
    body["output"]["message"]["content"] = [{"text": text[:half]}, {"text": text[half:]}]
    fake.answer(Canned(body=json.dumps(body).encode()))
    generator = BedrockConverseGenerator(bedrock_client, BEDROCK_MODEL, max_tokens=4096)
    assert generator.name == "bedrock"

    project = generator.generate(make_request("infra"))

    assert project == expected_project(template_path="shop/template.yaml")
    [recorded] = fake.requests
    assert unquote(recorded.path) == f"/model/{BEDROCK_MODEL}/converse"
    assert recorded.headers["authorization"].startswith("AWS4-HMAC-SHA256")
    sent = recorded.json()
    assert sent["inferenceConfig"] == {"maxTokens": 4096, "temperature": 0}
    assert "JSON object" in sent["system"][0]["text"]
    [message] = sent["messages"]
    assert message["role"] == "user"
    user = message["content"][0]["text"]
    assert "Project type: infra" in user
    assert "Customer" in user
    assert "Order" in user


def test_bedrock_fenced_json(fake: FakeServer, bedrock_client: object) -> None:
    fake.answer(Canned(body=converse_response(f"```json\n{answer_json()}\n```")))
    assert BedrockConverseGenerator(bedrock_client, BEDROCK_MODEL).generate(make_request()) == expected_project()


def test_bedrock_garbage_answer(fake: FakeServer, bedrock_client: object) -> None:
    fake.answer(Canned(body=converse_response("I'd rather write a poem.")))
    with pytest.raises(GenerationError, match="the model's answer was not a project"):
        BedrockConverseGenerator(bedrock_client, BEDROCK_MODEL).generate(make_request())


def test_bedrock_max_tokens_is_cut_off(fake: FakeServer, bedrock_client: object) -> None:
    fake.answer(Canned(body=converse_response('{"files": [{"path": "shop/a.py", "con', stop_reason="max_tokens")))
    with pytest.raises(GenerationError, match="the model's answer was cut off"):
        BedrockConverseGenerator(bedrock_client, BEDROCK_MODEL).generate(make_request())


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 429),
        ("ServiceUnavailableException", 503),
        ("InternalServerException", 500),
        ("ModelNotReadyException", 429),
    ],
)
def test_bedrock_transient_errors(fake: FakeServer, bedrock_client: object, code: str, status: int) -> None:
    fake.answer(bedrock_error(code, status, "slow down"))
    with pytest.raises(TransientGeneratorError, match=f"{code}.*slow down"):
        BedrockConverseGenerator(bedrock_client, BEDROCK_MODEL).generate(make_request())
    assert len(fake.requests) == 1  # not retried by botocore under this config


@pytest.mark.parametrize(
    ("code", "status", "reason"),
    [
        ("ValidationException", 400, "rejected the request"),
        ("AccessDeniedException", 403, "denied access"),
        ("ResourceNotFoundException", 404, "was not found"),
    ],
)
def test_bedrock_permanent_errors(
    fake: FakeServer, bedrock_client: object, code: str, status: int, reason: str
) -> None:
    fake.answer(bedrock_error(code, status, "details from bedrock"))
    with pytest.raises(GenerationError, match=f"{reason}.*{code}.*details from bedrock"):
        BedrockConverseGenerator(bedrock_client, BEDROCK_MODEL).generate(make_request())


def test_bedrock_error_code_from_body_type(fake: FakeServer, bedrock_client: object) -> None:
    fake.answer(Canned(429, b'{"__type": "ThrottlingException", "message": "too many"}'))
    with pytest.raises(TransientGeneratorError, match="ThrottlingException"):
        BedrockConverseGenerator(bedrock_client, BEDROCK_MODEL).generate(make_request())


def test_bedrock_timeout_is_transient(fake: FakeServer, bedrock_client: object) -> None:
    fake.answer(Canned(body=converse_response(answer_json()), delay=5))
    with pytest.raises(TransientGeneratorError, match="ReadTimeoutError"):
        BedrockConverseGenerator(bedrock_client, BEDROCK_MODEL).generate(make_request())


def test_a_project_without_the_template_it_names_is_refused() -> None:
    files = {k: v for k, v in GOOD_FILES.items() if k != "shop/template.yaml"}
    project = with_template_path(expected_project(files), make_request("full-stack"))
    with pytest.raises(GenerationError, match=r"no CloudFormation template at 'shop/template\.yaml'"):
        validate_project(project, "shop", ProjectLimits())
    assert with_template_path(expected_project(files), make_request("api")).template_path is None
