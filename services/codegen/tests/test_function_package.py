"""A full-stack project's Lambda code package, and its handler answering real API Gateway HTTP API events.

The handler test extracts the code package as Lambda would (/var/task: the package's folder first on the path,
the runtime's boto3 after it), and feeds the handler events of payload format 2.0 in a child Python, against
the embedded AWS's DynamoDB: what would run in the cloud is what runs here, less the Lambda runtime itself.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from snapinfra_codegen.adapters.artifacts import ArtifactStore
from snapinfra_codegen.function_package import BuiltCodePackage, build_code_package
from snapinfra_codegen.generators.base import GeneratedProject, GenerationError, GenerationRequest
from snapinfra_codegen.generators.templated import TemplatedGenerator
from snapinfra_codegen.generators.templated.versions import LAMBDA_REQUIREMENTS
from snapinfra_codegen.packaging import package
from snapinfra_shared.spec import ProjectSpec

SPEC = {
    "entities": [
        {
            "name": "Customer",
            "fields": [{"name": "name", "type": "string", "max_length": 80}, {"name": "email", "type": "email"}],
        },
        {
            "name": "Order",
            "fields": [{"name": "total", "type": "number"}, {"name": "note", "type": "text", "required": False}],
        },
    ]
}
MANY = {
    "entities": [{"name": f"Entity{i:02d}" + "X" * 50, "fields": [{"name": "v", "type": "string"}]} for i in range(20)]
}


def _project(spec: dict[str, Any] = SPEC) -> GeneratedProject:
    request = GenerationRequest("full-stack", "a shop", ProjectSpec.model_validate(spec), "shop")
    return TemplatedGenerator().generate(request)


def _built(project: GeneratedProject) -> BuiltCodePackage:
    built = build_code_package(project)
    assert isinstance(built, BuiltCodePackage), built
    return built


def test_the_package_holds_the_app_and_its_pinned_dependencies_and_nothing_else() -> None:
    project = _project()
    built = _built(project)
    assert _built(_project()).zip_bytes == built.zip_bytes  # the same project packs to the same bytes
    names = zipfile.ZipFile(io.BytesIO(built.zip_bytes)).namelist()
    app = {n for n in names if n.startswith("app/")}
    assert app == {p.removeprefix("shop/") for p in project.files if p.startswith("shop/app/")}
    assert "app/lambda_handler.py" in app
    assert not [n for n in names if n.startswith(("tests/", "infra/", "boto3/", "botocore/")) or n.endswith(".pyc")]
    for top in ("flask/", "werkzeug/", "pydantic/", "pydantic_core/", "apig_wsgi/"):
        assert any(n.startswith(top) for n in names), top
    pinned = dict(line.split("==") for line in LAMBDA_REQUIREMENTS)
    assert {name: built.vendored[name] for name in pinned} == pinned
    assert built.runtime == f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert built.handler == "app.lambda_handler.handler"


def test_a_pin_that_is_not_the_installed_version_is_refused() -> None:
    project = _project()
    assert project.function is not None
    wrong = GeneratedProject(
        files=project.files,
        template_path=project.template_path,
        function=type(project.function)(project.function.root, ("app",), "app.x.handler", ("flask==0.1",)),
    )
    with pytest.raises(GenerationError, match=r"codegen cannot vendor flask==0.1 into the function: .* flask 3"):
        build_code_package(wrong)


def test_projects_without_a_function_have_no_package() -> None:
    request = GenerationRequest("api", "x", ProjectSpec.model_validate(SPEC), "shop")
    assert build_code_package(TemplatedGenerator().generate(request)) is None


def test_the_full_stack_template_fits_cloudformation_at_the_most_a_spec_allows() -> None:
    from cfnlint.api import ManualArgs, lint

    project = _project(MANY)
    assert project.template_path == "shop/infra/template.yaml"
    template = project.files[project.template_path]
    assert len(template) < 51_200
    assert list(lint(template.decode(), config=ManualArgs(regions=["us-east-1"]))) == []


def test_the_store_keeps_the_package_under_the_attempt_and_the_manifest_names_it(stack: Any) -> None:
    project = _project()
    store = ArtifactStore(stack.clients.s3, stack.topology.bucket, "codegen/")
    artifact = store.put(
        "alice", "job-1", 1, "shop", package(project, project_name="shop", generator="t"), _built(project)
    )
    assert artifact.template_path == "shop/infra/template.yaml"
    assert artifact.code_package is not None
    assert artifact.code_package.key == "codegen/alice/job-1/attempt-1/function/shop-function.zip"
    body = stack.clients.s3.get_object(Bucket=stack.topology.bucket, Key=artifact.code_package.key)["Body"].read()
    assert len(body) == artifact.code_package.size_bytes
    manifest = json.loads(
        stack.clients.s3.get_object(Bucket=stack.topology.bucket, Key=artifact.manifest_key)["Body"].read()
    )
    assert manifest["template_path"] == artifact.template_path
    assert manifest["code_package"]["sha256"] == artifact.code_package.sha256
    assert manifest["code_package"]["vendored"]["flask"] == "3.1.3"


# -- the handler, with API Gateway HTTP API events (payload format 2.0) --------------------------------


def http_event(method: str, path: str, body: Any = None, query: str = "") -> dict[str, Any]:
    """An event as API Gateway's HTTP API sends it to a Lambda proxy integration, payload format 2.0."""
    host = "abc123.execute-api.us-east-1.amazonaws.com"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "cookies": [],
        "headers": {"accept": "application/json", "content-type": "application/json", "host": host},
        "queryStringParameters": dict(p.split("=", 1) for p in query.split("&")) if query else None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": host,
            "domainPrefix": "abc123",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "t"},
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1767225600000,
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


# Runs in the child: the handler module imported from the extracted package, each line of stdin an event.
_RUNNER = """\
import json, sys
import flask
assert flask.__file__.startswith(sys.argv[1]), flask.__file__  # the vendored copy, not this environment's
from app.lambda_handler import handler
for line in sys.stdin:
    print(json.dumps(handler(json.loads(line), None)), flush=True)
"""


class Function:
    """The extracted code package, its handler serving events in a child Python (one per conversation)."""

    def __init__(self, where: Path, env: dict[str, str]) -> None:
        self.where, self.env = where, env

    def call(self, *events: dict[str, Any]) -> list[dict[str, Any]]:
        result = subprocess.run(
            [sys.executable, "-c", _RUNNER, str(self.where)],
            input="".join(json.dumps(e) + "\n" for e in events),
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        answers = [json.loads(line) for line in result.stdout.splitlines()]
        for answer in answers:
            answer["headers"] = {k.lower(): v for k, v in answer.get("headers", {}).items()}
            if answer.get("body") and answer["headers"].get("content-type", "").startswith("application/json"):
                answer["json"] = json.loads(answer["body"])
        return answers


@pytest.fixture(scope="module")
def function(aws_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Function:
    project = _project()
    where = tmp_path_factory.mktemp("var-task")
    zipfile.ZipFile(io.BytesIO(_built(project).zip_bytes)).extractall(where)
    dynamodb = boto3.client("dynamodb", endpoint_url=aws_endpoint)
    # Each table as the app itself defines it (its by_order and filter indexes), read from the package.
    describe = (
        "import json; from app.config import SHAPES, TABLE_ENV_VARS; from app.repository import table_definition; "
        "print(json.dumps({var: table_definition('t', SHAPES[e]) for e, var in TABLE_ENV_VARS.items()}))"
    )
    boto_home = str(Path(boto3.__file__).parent.parent)
    definitions = json.loads(
        subprocess.run(
            [sys.executable, "-c", describe],
            env={"PYTHONPATH": f"{where}{os.pathsep}{boto_home}", "PATH": os.environ["PATH"]},
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
    )
    tables = {}
    for variable, definition in definitions.items():
        name = f"fn-{uuid.uuid4().hex[:8]}-{variable.lower().removesuffix('_table_name')}"
        dynamodb.create_table(**(definition | {"TableName": name}))
        tables[variable] = name
    # As in Lambda: the package's folder first; this environment's site-packages only for the runtime's boto3.
    env = {k: v for k, v in os.environ.items() if k.startswith("AWS_")} | tables
    env |= {"PYTHONPATH": f"{where}{os.pathsep}{boto_home}", "PYTHONNOUSERSITE": "1", "PATH": os.environ["PATH"]}
    return Function(where, env)


def test_create_read_list_and_delete_through_the_handler(function: Function, aws_endpoint: str) -> None:
    customer = {"name": "Ada", "email": "ada@example.com"}
    [created, bad] = function.call(http_event("POST", "/customers", customer), http_event("POST", "/customers", {}))
    assert created["statusCode"] == 201, created
    item = created["json"]
    assert item["name"] == "Ada" and item["email"] == "ada@example.com"
    assert created["headers"]["location"].endswith(f"/customers/{item['id']}")
    assert bad["statusCode"] == 422  # the app's own validation, through the adapter

    # A new process (a cold start) reads what the first wrote: it is in DynamoDB, not in memory.
    [read, listed, missing] = function.call(
        http_event("GET", f"/customers/{item['id']}"),
        http_event("GET", "/customers", query="limit=10"),
        http_event("GET", f"/customers/{uuid.uuid4()}"),
    )
    assert read["statusCode"] == 200 and read["json"] == item
    assert listed["statusCode"] == 200 and item in listed["json"]["items"]
    assert missing["statusCode"] == 404

    [deleted, gone] = function.call(
        http_event("DELETE", f"/customers/{item['id']}"), http_event("GET", f"/customers/{item['id']}")
    )
    assert deleted["statusCode"] == 204 and gone["statusCode"] == 404
    table = function.env["CUSTOMER_TABLE_NAME"]
    dynamodb = boto3.client("dynamodb", endpoint_url=aws_endpoint)
    assert "Item" not in dynamodb.get_item(TableName=table, Key={"id": {"S": item["id"]}})


# Routes of spec v2 (references, filters) join this table once the generated app has them: (events, checks).
@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/orders", {"total": 12.5, "note": "gift"}, 201),
        ("POST", "/orders", {"total": "lots"}, 422),
        ("GET", "/health", None, 200),
        ("PATCH", "/nowhere", {}, 404),
    ],
)
def test_each_route_answers_as_the_app_does(function: Function, method: str, path: str, body: Any, status: int) -> None:
    [answer] = function.call(http_event(method, path, body))
    assert answer["statusCode"] == status, answer
