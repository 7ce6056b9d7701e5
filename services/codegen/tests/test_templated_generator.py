"""The templated generator: every project type builds, deterministically, and what it builds works.

The generated `api` and `model` projects carry their own pytest suites; these tests write them to a
temporary folder and run those suites in a subprocess, from the generated project's root so that its
own pytest configuration applies (not this repository's). The `infra` template goes through cfn-lint
and is deployed, twice, into moto's CloudFormation emulator.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from snapinfra_codegen.generators.base import GeneratedProject, GenerationError, GenerationRequest
from snapinfra_codegen.generators.templated import TemplatedGenerator
from snapinfra_codegen.handlers import project_name as project_name_of
from snapinfra_shared.spec import MIN_MAX_LENGTH, EntitySpec, FieldSpec, ProjectSpec, ProjectType

PROJECT = "demo-shop"
PROMPT = "A small shop: users, orders and categories."

ONE_ENTITY = {
    "entities": [
        {
            "name": "User",
            "fields": [
                {"name": "name", "type": "string", "max_length": 100},
                {"name": "email", "type": "email"},
            ],
        }
    ]
}

# Every field type, required and optional, with and without max_length (including tight ones).
EVERY_TYPE = {
    "entities": [
        {
            "name": "OrderItem",
            "fields": [
                {"name": "title", "type": "string", "max_length": 1},
                {"name": "body", "type": "text", "required": False, "max_length": 2000},
                {"name": "quantity", "type": "integer"},
                {"name": "price", "type": "number", "required": False},
                {"name": "active", "type": "boolean"},
                {"name": "due_at", "type": "datetime", "required": False},
                {"name": "ships_on", "type": "date"},
                {"name": "contact", "type": "email", "max_length": 6},
                {"name": "homepage", "type": "url", "required": False, "max_length": 300},
                {"name": "ref", "type": "uuid"},
            ],
        },
        {
            "name": "Category",
            "fields": [
                {"name": "label", "type": "string", "required": False, "max_length": 40},
                {"name": "notes", "type": "text", "required": False},
            ],
        },
        {"name": "Person", "fields": [{"name": "email", "type": "email", "max_length": 254}]},
    ]
}

# Names that are easy to get wrong: a keyword module (Class), a class clashing with a field type (Email),
# fields named after types and pydantic.BaseModel attributes, an entity with no required field.
AWKWARD = {
    "entities": [
        {
            "name": "Class",
            "fields": [
                {"name": "date", "type": "date", "required": False},
                {"name": "other_date", "type": "date", "required": False},
                {"name": "float", "type": "number", "required": False},
                {"name": "uuid", "type": "uuid", "required": False},
                {"name": "json", "type": "string", "required": False},
                {"name": "model_name", "type": "string"},
            ],
        },
        {"name": "Email", "fields": [{"name": "subject", "type": "string"}, {"name": "sent", "type": "boolean"}]},
        {"name": "HTTPRequest", "fields": [{"name": "url", "type": "url"}, {"name": "str", "type": "text"}]},
    ]
}

# The most a spec allows: 20 entities with long names (for the CloudFormation template limits).
MANY = {
    "entities": [
        {"name": f"Entity{i:02d}" + "X" * 50, "fields": [{"name": "value", "type": "string"}]} for i in range(20)
    ]
}

# Spec v2: the library (a reference that restricts, one that cascades, a decimal, an enum with a default, a
# unique field, bounds, a list).
LIBRARY = {
    "entities": [
        {
            "name": "Author",
            "fields": [
                {"name": "name", "type": "string", "min_length": 1, "max_length": 200},
                {"name": "email", "type": "email", "required": False, "unique": True},
            ],
        },
        {
            "name": "Book",
            "fields": [
                {"name": "title", "type": "string", "min_length": 1, "max_length": 300},
                {"name": "isbn", "type": "string", "unique": True, "min_length": 10, "max_length": 17},
                {"name": "author_id", "type": "reference", "references": "Author"},
                {"name": "price", "type": "decimal", "minimum": 0, "maximum": 10000},
                {"name": "status", "type": "enum", "values": ["available", "loaned", "lost"], "default": "available"},
                {"name": "tags", "type": "list", "items": "string", "max_items": 5, "required": False},
            ],
        },
        {
            "name": "Loan",
            "fields": [
                {"name": "book_id", "type": "reference", "references": "Book", "on_delete": "cascade"},
                {"name": "borrower", "type": "string", "max_length": 100},
                {"name": "borrowed_on", "type": "date"},
                {"name": "due_on", "type": "date"},
                {"name": "returned_on", "type": "date", "required": False},
            ],
        },
    ]
}

# Every v2 kind and rule, at its edges: a transitive cascade (Category <- Product <- Review), an optional
# self-reference, a one-to-one (a unique reference), unique fields of every type that may be unique, tight
# ranges, lists of decimals, defaults of several types, and an entity only one item of which can exist (a
# unique enum of one value).
EVERY_KIND = {
    "entities": [
        {
            "name": "Category",
            "fields": [
                {"name": "label", "type": "string", "unique": True, "min_length": 2, "max_length": 40},
                {"name": "parent_id", "type": "reference", "references": "Category", "required": False},
                {"name": "rank", "type": "integer", "unique": True, "minimum": 1, "maximum": 3},
            ],
        },
        {
            "name": "Product",
            "fields": [
                {"name": "sku", "type": "string", "unique": True, "max_length": 1},
                {"name": "category_id", "type": "reference", "references": "Category", "on_delete": "cascade"},
                {"name": "price", "type": "decimal", "unique": True, "minimum": 0.01, "maximum": 0.05},
                {"name": "weight", "type": "number", "minimum": 0.5, "maximum": 2.5, "default": 1},
                {"name": "kind", "type": "enum", "values": ["tool", "toy"], "required": False},
                {"name": "tags", "type": "list", "items": "string", "min_items": 1, "max_items": 3},
                {"name": "past_prices", "type": "list", "items": "decimal", "required": False, "max_items": 4},
                {"name": "released_on", "type": "date", "unique": True, "required": False},
                {"name": "launched_at", "type": "datetime", "default": "2024-01-01T00:00:00Z"},
                {"name": "active", "type": "boolean", "default": True},
                {"name": "homepage", "type": "url", "unique": True, "min_length": 12, "required": False},
                {"name": "contact", "type": "email", "unique": True, "min_length": 8, "max_length": 40},
                {"name": "ref", "type": "uuid", "unique": True},
                {"name": "stock", "type": "integer", "minimum": 0, "default": 0},
            ],
        },
        {
            "name": "Review",
            "fields": [
                {"name": "product_id", "type": "reference", "references": "Product", "on_delete": "cascade"},
                {"name": "rating", "type": "integer", "minimum": 1, "maximum": 5},
                {"name": "body", "type": "text", "required": False, "max_length": 500},
            ],
        },
        {
            "name": "Badge",
            "fields": [
                {"name": "code", "type": "enum", "values": ["gold"], "unique": True},
                {"name": "product_id", "type": "reference", "references": "Product", "unique": True},
            ],
        },
    ]
}

SPECS = {
    "one-entity": ONE_ENTITY,
    "every-type": EVERY_TYPE,
    "awkward": AWKWARD,
    "many": MANY,
    "library": LIBRARY,
    "every-kind": EVERY_KIND,
}


def _request(project_type: ProjectType, spec: dict[str, Any], name: str = PROJECT) -> GenerationRequest:
    return GenerationRequest(
        project_type=project_type,
        prompt=PROMPT,
        spec=ProjectSpec.model_validate(spec),
        project_name=name,
    )


def _generate(project_type: ProjectType, spec: dict[str, Any]) -> GeneratedProject:
    return TemplatedGenerator().generate(_request(project_type, spec))


def _write(project: GeneratedProject, where: Path) -> Path:
    for path, content in project.files.items():
        target = where / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return where / PROJECT


class _GeneratedSuite:
    """A generated project written to disk, with its own pytest suite running in a subprocess."""

    def __init__(self, root: Path, log: Path) -> None:
        self.root = root
        self._log = log
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "PYTHONPATH"}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        with log.open("w") as out:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                cwd=root,  # so the generated project's pytest settings apply, not this repository's
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def passed(self) -> int:
        """Wait for the suite; assert it succeeded and return how many tests passed."""
        returncode = self._process.wait(timeout=600)  # all suites run at once, on a machine that may be busy
        output = self._log.read_text()
        assert returncode == 0, output[-5000:]
        passed = re.search(r"(\d+) passed", output)
        assert passed, output[-2000:]
        assert not re.search(r"\d+ (failed|error|skipped)", output), output[-2000:]
        return int(passed.group(1))

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()


_SUITES: dict[str, tuple[ProjectType, dict[str, Any]]] = {
    "api-one-entity": ("api", ONE_ENTITY),
    "api-every-type": ("api", EVERY_TYPE),
    "model-awkward": ("model", AWKWARD),
    "full-stack-awkward": ("full-stack", AWKWARD),
    "api-library": ("api", LIBRARY),
    "full-stack-every-kind": ("full-stack", EVERY_KIND),
    "model-every-kind": ("model", EVERY_KIND),
}


@pytest.fixture(scope="module")
def suites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, _GeneratedSuite]]:
    """Every generated project's test suite, all started at once so that they run side by side."""
    started: dict[str, _GeneratedSuite] = {}
    try:
        for key, (project_type, spec) in _SUITES.items():
            where = tmp_path_factory.mktemp(key)
            root = _write(_generate(project_type, spec), where)
            started[key] = _GeneratedSuite(root, where / "pytest.log")
        yield started
    finally:
        for suite in started.values():
            suite.stop()


def _ruff_clean(root: Path) -> None:
    """The generated Python passes ruff with the project's own settings (its pyproject.toml)."""
    if importlib.util.find_spec("ruff") is None:
        return
    for command in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--no-cache", "."],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def _lint(template: str) -> list[Any]:
    from cfnlint.api import ManualArgs, lint

    return list(lint(template, config=ManualArgs(regions=["us-east-1"])))


def _decode(template: str) -> dict[str, Any]:
    from cfnlint.decode import decode_str

    decoded, matches = decode_str(template)
    assert not matches, matches
    assert decoded is not None
    return dict(decoded)


# What a full-stack template adds to the tables: the API as a function behind an HTTP API.
FUNCTION_RESOURCES = {
    "ApiFunctionLogGroup": "AWS::Logs::LogGroup",
    "ApiFunctionRole": "AWS::IAM::Role",
    "ApiFunction": "AWS::Lambda::Function",
    "HttpApi": "AWS::ApiGatewayV2::Api",
    "HttpApiIntegration": "AWS::ApiGatewayV2::Integration",
    "HttpApiRoute": "AWS::ApiGatewayV2::Route",
    "HttpApiStage": "AWS::ApiGatewayV2::Stage",
    "ApiFunctionInvokedByHttpApi": "AWS::Lambda::Permission",
}


def _check_template(template: str, spec: dict[str, Any], *, function: bool = False) -> None:
    assert _lint(template) == []
    decoded = _decode(template)
    assert decoded["AWSTemplateFormatVersion"] == "2010-09-09"
    assert "Environment" in decoded["Parameters"]
    tables = {name: r for name, r in decoded["Resources"].items() if r["Type"] == "AWS::DynamoDB::Table"}
    others = {name: r["Type"] for name, r in decoded["Resources"].items() if name not in tables}
    assert others == (FUNCTION_RESOURCES if function else {})
    assert len(tables) == len(spec["entities"])
    if function:
        _check_function(decoded, spec)
    for entity in spec["entities"]:
        table = tables[f"{entity['name']}Table"]["Properties"]
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
        assert table["SSESpecification"] == {"SSEEnabled": True}
        assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert "${AWS::StackName}" in table["TableName"]["Fn::Sub"]
        assert f"{entity['name']}TableName" in decoded["Outputs"]
        assert f"{entity['name']}TableArn" in decoded["Outputs"]


def _check_function(decoded: dict[str, Any], spec: dict[str, Any]) -> None:
    """The function reads its tables from their variables, its role reaches only them and its log group."""
    assert {"CodeBucket", "CodeKey", "CodeRuntime", "CodeArchitecture"} <= set(decoded["Parameters"])
    resources = decoded["Resources"]
    function = resources["ApiFunction"]["Properties"]
    assert function["Code"] == {"S3Bucket": {"Ref": "CodeBucket"}, "S3Key": {"Ref": "CodeKey"}}
    assert function["Handler"] == "app.lambda_handler.handler"
    variables = function["Environment"]["Variables"]
    assert sorted(v["Ref"] for v in variables.values()) == sorted(
        f"{entity['name']}Table" for entity in spec["entities"]
    )
    assert resources["ApiFunctionLogGroup"]["Properties"]["RetentionInDays"] == 14
    role = resources["ApiFunctionRole"]["Properties"]
    assert "ManagedPolicyArns" not in role
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    resources_granted = [
        r for s in statements for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    ]
    assert {json.dumps(r, sort_keys=True) for r in resources_granted} == {
        json.dumps(r, sort_keys=True)
        for entity in spec["entities"]
        for r in (
            {"Fn::GetAtt": [f"{entity['name']}Table", "Arn"]},
            {"Fn::Sub": f"${{{entity['name']}Table.Arn}}/index/*"},
        )
    } | {json.dumps({"Fn::GetAtt": ["ApiFunctionLogGroup", "Arn"]}, sort_keys=True)}
    assert all(s["Effect"] == "Allow" and "*" not in s["Action"] for s in statements)
    integration = resources["HttpApiIntegration"]["Properties"]
    assert integration["PayloadFormatVersion"] == "2.0" and integration["IntegrationType"] == "AWS_PROXY"
    assert decoded["Outputs"]["ApiUrl"]["Value"] == {"Fn::GetAtt": ["HttpApi", "ApiEndpoint"]}


# -- the generated projects work ------------------------------------------------------------------


@pytest.mark.parametrize("spec_name", ["one-entity", "every-type"])
def test_api_project_tests_pass(suites: dict[str, _GeneratedSuite], spec_name: str) -> None:
    spec = SPECS[spec_name]
    suite = suites[f"api-{spec_name}"]
    root = suite.root
    for name in ("Dockerfile", "requirements.txt", "requirements-dev.txt", "README.md", "pyproject.toml"):
        assert (root / name).is_file(), name
    requirements = (root / "requirements.txt").read_text()
    for package in ("flask==", "pydantic==", "boto3==", "gunicorn=="):
        assert package in requirements
    assert "pytest==" in (root / "requirements-dev.txt").read_text()
    dockerfile = (root / "Dockerfile").read_text()
    assert "FROM python:3.12-slim" in dockerfile
    assert "\nUSER app\n" in dockerfile
    assert "gunicorn" in dockerfile
    readme = (root / "README.md").read_text()
    for entity in spec["entities"]:
        assert f"### {entity['name']}" in readme
    _ruff_clean(root)
    # Each entity brings dozens of route and model tests; make sure they all ran.
    assert suite.passed() > 40 * len(spec["entities"])


def test_library_api_project_enforces_its_spec(suites: dict[str, _GeneratedSuite]) -> None:
    suite = suites["api-library"]
    root = suite.root
    config = (root / "app" / "config.py").read_text()
    assert '"Book": Shape(unique=("isbn",), filters=("author_id", "status"), decimals=("price",)),' in config
    assert '("Book", "author_id", "restrict")' in config and '("Loan", "book_id", "cascade")' in config
    assert '"Loan": {\n        "book_id": "Book",\n    },' in config
    for name in (".env.example", ".github/workflows/ci.yml", "app/openapi.py", "tests/samples.py"):
        assert (root / name).is_file(), name
    workflow = (root / ".github" / "workflows" / "ci.yml").read_text()
    assert "pip install -r requirements-dev.txt" in workflow and "- run: pytest" in workflow
    assert "ruff==" in (root / "requirements-dev.txt").read_text()
    readme = (root / "README.md").read_text()
    assert "`GET /books?author_id=<id>`; deleting the Author is refused with 409" in readme
    assert "`GET /loans?book_id=<id>`; deleting the Book deletes them too (cascade)" in readme
    assert "AWS_REGION" in readme and "by_order" in readme and "/openapi.json" in readme
    _ruff_clean(root)
    assert suite.passed() > 300


def test_every_kind_full_stack_project(suites: dict[str, _GeneratedSuite]) -> None:
    """Every v2 kind at its edges builds, lints and passes its own suite; the template's tables are the ones the
    app's table_definition (what its tests create in moto) describes."""
    suite = suites["full-stack-every-kind"]
    root = suite.root
    template = (root / "infra" / "template.yaml").read_text()
    assert _lint(template) == []
    tables = _decode(template)["Resources"]
    script = (
        "import json; from app.config import SHAPES; from app.repository import table_definition; "
        "print(json.dumps({e: table_definition('t', s) for e, s in SHAPES.items()}))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    for entity, definition in json.loads(result.stdout).items():
        properties = tables[f"{entity}Table"]["Properties"]
        assert properties["AttributeDefinitions"] == definition["AttributeDefinitions"]
        assert properties["GlobalSecondaryIndexes"] == definition["GlobalSecondaryIndexes"]
    assert [i["IndexName"] for i in tables["ProductTable"]["Properties"]["GlobalSecondaryIndexes"]] == [
        "by_order",
        "by_category_id",
        "by_kind",
    ]
    _ruff_clean(root)
    assert suite.passed() > 500


def test_every_kind_model_project(suites: dict[str, _GeneratedSuite]) -> None:
    suite = suites["model-every-kind"]
    _ruff_clean(suite.root)
    assert suite.passed() > 150


def test_model_project_tests_pass(suites: dict[str, _GeneratedSuite]) -> None:
    suite = suites["model-awkward"]
    root = suite.root
    assert (root / "demo_shop_models" / "__init__.py").is_file()
    assert not (root / "app").exists()
    assert "pydantic==" in (root / "requirements.txt").read_text()
    _ruff_clean(root)
    assert suite.passed() > 20 * len(AWKWARD["entities"])


@pytest.mark.parametrize("spec_name", ["every-type", "many"])
def test_infra_template_lints_clean(spec_name: str) -> None:
    project = _generate("infra", SPECS[spec_name])
    assert set(project.files) == {f"{PROJECT}/template.yaml", f"{PROJECT}/README.md"}
    assert project.template_path == f"{PROJECT}/template.yaml" and project.function is None
    _check_template(project.files[f"{PROJECT}/template.yaml"].decode(), SPECS[spec_name])


def test_infra_template_deploys_twice_into_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    moto = pytest.importorskip("moto")
    import boto3

    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    template = _generate("infra", EVERY_TYPE).files[f"{PROJECT}/template.yaml"].decode()
    with moto.mock_aws():
        cloudformation = boto3.client("cloudformation")
        outputs = {}
        for stack in ("shop-dev", "shop-prod"):
            cloudformation.create_stack(
                StackName=stack,
                TemplateBody=template,
                Parameters=[{"ParameterKey": "Environment", "ParameterValue": stack.split("-")[1]}],
            )
            described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
            assert described["StackStatus"] == "CREATE_COMPLETE"
            outputs[stack] = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
        tables = set(boto3.client("dynamodb").list_tables()["TableNames"])
    assert outputs["shop-dev"]["OrderItemTableName"] == "shop-dev-order-items"
    assert outputs["shop-prod"]["PersonTableName"] == "shop-prod-people"
    assert tables == {name for stack in outputs.values() for key, name in stack.items() if key.endswith("Name")}
    assert len(tables) == 2 * len(EVERY_TYPE["entities"])


def test_full_stack_project(suites: dict[str, _GeneratedSuite]) -> None:
    suite = suites["full-stack-awkward"]
    root = suite.root
    _check_template((root / "infra" / "template.yaml").read_text(), AWKWARD, function=True)
    assert "apig-wsgi==" in (root / "requirements.txt").read_text()
    assert (root / "app" / "lambda_handler.py").is_file()
    readme = (root / "README.md").read_text()
    assert "infra/template.yaml" in readme
    for name in ("ClassTableName", "CLASS_TABLE_NAME", "HTTP_REQUEST_TABLE_NAME", "HTTPRequestTableName"):
        assert name in readme
    _ruff_clean(root)
    assert suite.passed() > 20 * len(AWKWARD["entities"])


# -- properties of every project ------------------------------------------------------------------

ALL_TYPES: list[ProjectType] = ["api", "model", "infra", "full-stack"]


@pytest.mark.parametrize("project_type", ALL_TYPES)
@pytest.mark.parametrize("spec_name", list(SPECS))
def test_output_is_deterministic_contained_and_parses(project_type: ProjectType, spec_name: str) -> None:
    first = _generate(project_type, SPECS[spec_name])
    second = TemplatedGenerator().generate(_request(project_type, SPECS[spec_name]))
    assert first.files == second.files
    assert list(first.files) == list(second.files)
    for path, content in first.files.items():
        parts = path.split("/")
        assert parts[0] == PROJECT and len(parts) > 1, path
        assert ".." not in parts and "" not in parts and "\\" not in path, path
        text = content.decode("utf-8")
        assert text == "" or text.endswith("\n"), path
        assert "\r" not in text, path
        if path.endswith(".py"):
            ast.parse(text, filename=path)


_DIGEST_SCRIPT = """
import hashlib, json, sys
from snapinfra_codegen.generators.base import GenerationRequest
from snapinfra_codegen.generators.templated import TemplatedGenerator
from snapinfra_shared.spec import ProjectSpec

digest = hashlib.sha256()
for project_type, spec in json.loads(sys.argv[1]):
    request = GenerationRequest(project_type, sys.argv[2], ProjectSpec.model_validate(spec), sys.argv[3])
    for path, content in TemplatedGenerator().generate(request).files.items():
        digest.update(path.encode() + b"\\0" + content + b"\\0")
print(digest.hexdigest())
"""


def test_output_does_not_depend_on_hash_seed() -> None:
    """Byte-identical across processes too (set iteration order changes with PYTHONHASHSEED)."""
    cases = [(project_type, spec) for project_type in ALL_TYPES for spec in (EVERY_TYPE, AWKWARD, EVERY_KIND)]
    expected = hashlib.sha256()
    for project_type, spec in cases:
        for path, content in _generate(project_type, spec).files.items():
            expected.update(path.encode() + b"\0" + content + b"\0")
    result = subprocess.run(
        [sys.executable, "-c", _DIGEST_SCRIPT, json.dumps(cases), PROMPT, PROJECT],
        env={**os.environ, "PYTHONHASHSEED": "12345"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == expected.hexdigest()


def test_projects_differ_by_name_only_in_named_places() -> None:
    a = TemplatedGenerator().generate(_request("api", ONE_ENTITY, name="shop-a"))
    b = TemplatedGenerator().generate(_request("api", ONE_ENTITY, name="shop-b"))
    assert [p.removeprefix("shop-a/") for p in a.files] == [p.removeprefix("shop-b/") for p in b.files]
    assert a.files["shop-a/app/routes/user.py"] == b.files["shop-b/app/routes/user.py"]


def test_generator_identity() -> None:
    assert TemplatedGenerator.name == "templated"
    assert TemplatedGenerator().name == "templated"


# -- spec v2, kind by kind -------------------------------------------------------------------------


def _thing_files(*fields: dict[str, Any], project_type: ProjectType = "api") -> dict[str, str]:
    spec = {"entities": [{"name": "Owner", "fields": [{"name": "label"}]}, {"name": "Thing", "fields": list(fields)}]}
    files = _generate(project_type, spec).files
    return {path.removeprefix(f"{PROJECT}/"): content.decode() for path, content in files.items()}


@pytest.mark.parametrize(
    ("field", "create_line"),
    [
        pytest.param(
            {"name": "price", "type": "decimal", "minimum": 0.01, "maximum": 99},
            'price: DecimalNumber = Field(ge=Decimal("0.01"), le=Decimal("99"))',
            id="decimal",
        ),
        pytest.param({"name": "status", "type": "enum", "values": ["a", "b c"]}, "status: _Enum1", id="enum"),
        pytest.param(
            {"name": "owner_id", "type": "reference", "references": "Owner", "required": False},
            "owner_id: UUID | None = None",
            id="reference",
        ),
        pytest.param(
            {"name": "tags", "type": "list", "items": "email", "min_items": 1, "max_items": 3},
            "tags: list[Email] = Field(min_length=1, max_length=3)",
            id="list",
        ),
        pytest.param(
            {"name": "code", "type": "string", "min_length": 2, "max_length": 5, "unique": True},
            "code: StrictStr = Field(min_length=2, max_length=5)",
            id="string-bounds",
        ),
        pytest.param(
            {"name": "count", "type": "integer", "minimum": 0, "maximum": 9},
            "count: StrictInt = Field(ge=0, le=9)",
            id="integer-range",
        ),
        pytest.param(
            {"name": "active", "type": "boolean", "default": True},
            "active: StrictBool = Field(default=True, validate_default=True)",
            id="default",
        ),
        pytest.param(
            {"name": "contact", "type": "email", "min_length": 8},
            "contact: Annotated[StrictStr, Field(min_length=8), EMAIL_FORMAT]",
            id="email-min-length",
        ),
    ],
)
def test_each_v2_kind_becomes_its_model_constraint(field: dict[str, Any], create_line: str) -> None:
    for project_type, module in (("api", "app/models/thing.py"), ("model", "demo_shop_models/thing.py")):
        source = _thing_files(field, project_type=project_type)[module]
        create = source.split("class ThingUpdate")[0]
        assert f"    {create_line}\n" in create, create


def test_references_enums_unique_and_decimals_reach_the_app_config() -> None:
    files = _thing_files(
        {"name": "owner_id", "type": "reference", "references": "Owner", "on_delete": "cascade"},
        {"name": "kind", "type": "enum", "values": ["x"]},
        {"name": "serial", "type": "uuid", "unique": True},
        {"name": "amounts", "type": "list", "items": "decimal", "required": False},
    )
    config = files["app/config.py"]
    assert '"Thing": Shape(unique=("serial",), filters=("owner_id", "kind"), decimals=("amounts",)),' in config
    assert '"Thing": {\n        "owner_id": "Owner",\n    },' in config
    assert '"Owner": [\n        ("Thing", "owner_id", "cascade"),\n    ],' in config
    assert "DecimalNumber = Annotated[Decimal" in files["app/models/_types.py"]
    assert '\n# The values of kind.\n_Enum1 = Literal["x"]\n' in files["app/models/thing.py"]
    routes = files["app/routes/thing.py"]
    assert "check_references(ENTITY, record)" in routes and "delete_with_rules(ENTITY, _load(item_id))" in routes
    tests = files["tests/test_thing_routes.py"]
    assert 'pytest.param("/owners", ' in tests and "204, True" in tests  # the cascade, worked out on paper
    assert (
        'FILTERS = {\n    "owner_id": ("not-an-id", UNKNOWN_ID),\n    "kind": ("not one of the values", None),\n}'
        in tests
    )
    assert '"Thing": [\n        (\n            "Owner",' in files["tests/samples.py"]


def test_the_infra_template_indexes_creation_order_and_each_filter() -> None:
    template = _thing_files(
        {"name": "owner_id", "type": "reference", "references": "Owner"},
        {"name": "kind", "type": "enum", "values": ["x"]},
        project_type="infra",
    )["template.yaml"]
    assert _lint(template) == []
    tables = _decode(template)["Resources"]
    indexes = {name: [i["IndexName"] for i in t["Properties"]["GlobalSecondaryIndexes"]] for name, t in tables.items()}
    assert indexes == {"OwnerTable": ["by_order"], "ThingTable": ["by_order", "by_owner_id", "by_kind"]}


def test_past_nineteen_filters_the_others_read_the_order_index() -> None:
    fields = [{"name": f"kind{i}", "type": "enum", "values": ["x"]} for i in range(25)]
    template = _thing_files(*fields, project_type="infra")["template.yaml"]
    assert _lint(template) == []
    indexes = _decode(template)["Resources"]["ThingTable"]["Properties"]["GlobalSecondaryIndexes"]
    assert len(indexes) == 20 and indexes[-1]["IndexName"] == "by_kind18"


# Model projects of v1 specs, byte for byte as before spec v2 (sha256 of every path and content).
V1_MODEL_DIGESTS = {
    "one-entity": "69704a1e45f76ad6148db8d905a07ceeddee326c2b773fd675747fc289d827fc",
    "every-type": "c4848acc1760a31fd157da111eb088226178c10e6cd81426db3f7dd4e2c35feb",
    "awkward": "7611c21199715343daa12d1e01086c25ba6ef86cd4a4afdda1f9b5d366df1e67",
    "many": "bc0bef91beb12863fcd1f2396d3500ac3a1a78d56b18423e80e6e8194423b27f",
}


@pytest.mark.parametrize("spec_name", list(V1_MODEL_DIGESTS))
def test_a_v1_spec_still_generates_the_same_model_project(spec_name: str) -> None:
    digest = hashlib.sha256()
    for path, content in _generate("model", SPECS[spec_name]).files.items():
        digest.update(path.encode() + b"\0" + content + b"\0")
    assert digest.hexdigest() == V1_MODEL_DIGESTS[spec_name]


# -- refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../escape", "Demo", "demo/shop", "", "1demo", "demo shop"])
def test_refuses_a_project_name_that_is_not_a_slug(name: str) -> None:
    with pytest.raises(GenerationError, match="slug"):
        TemplatedGenerator().generate(_request("api", ONE_ENTITY, name=name))


def unchecked_spec(spec: dict[str, Any]) -> ProjectSpec:
    """A spec built without the spec model's validation, as if a client had bypassed the api."""
    return ProjectSpec.model_construct(
        entities=[
            EntitySpec.model_construct(
                name=entity["name"],
                fields=[
                    FieldSpec.model_construct(**{"type": "string", "required": True, "max_length": None, **f})
                    for f in entity["fields"]
                ],
            )
            for entity in spec["entities"]
        ]
    )


# Specs whose names clash in the generated code: (spec, the field the spec model names, the generator's message)
CLASHING: dict[str, tuple[dict[str, Any], str, str]] = {
    "entities sharing a module": (
        {"entities": [{"name": n, "fields": [{"name": "value"}]} for n in ("ABC", "Abc")]},
        "entities.1.name",
        "ABC, Abc would share the Python module 'abc'",
    ),
    "entities sharing a URL path": (
        {"entities": [{"name": n, "fields": [{"name": "value"}]} for n in ("Bus", "Buse")]},
        "entities.1.name",
        "Bus, Buse would share the URL path '/buses'",
    ),
    "entities sharing a module once snake_cased": (
        {"entities": [{"name": n, "fields": [{"name": "value"}]} for n in ("HTTPRequest", "HttpRequest")]},
        "entities.1.name",
        "would share the Python module 'http_request'",
    ),
    "duplicate entity names": (
        {"entities": [{"name": "User", "fields": [{"name": "value"}]}] * 2},
        "entities.1.name",
        "duplicate entity name User",
    ),
    "an entity named like another's generated class": (
        {"entities": [{"name": n, "fields": [{"name": "value"}]} for n in ("User", "UserCreate")]},
        "entities.1.name",
        "would both define the class 'UserCreate'",
    ),
    "an entity named like a builtin's renamed class": (
        {"entities": [{"name": n, "fields": [{"name": "value"}]} for n in ("Exception", "ExceptionModel")]},
        "entities.1.name",
        "would both define the class 'ExceptionModel'",
    ),
    "duplicate field names": (
        {"entities": [{"name": "User", "fields": [{"name": "value"}, {"name": "value"}]}]},
        "entities.0.fields.1.name",
        "duplicate field name in User",
    ),
    "fields sharing a model attribute": (
        {"entities": [{"name": "User", "fields": [{"name": "json"}, {"name": "json_"}]}]},
        "entities.0.fields.1.name",
        "would share the Python attribute 'json_'",
    ),
    "an email max_length no value can meet": (
        {"entities": [{"name": "User", "fields": [{"name": "link", "type": "email", "max_length": 4}]}]},
        "entities.0.fields.0.max_length",
        r"User\.link: max_length 4 is too short",
    ),
    "a url max_length no value can meet": (
        {"entities": [{"name": "User", "fields": [{"name": "link", "type": "url", "max_length": 7}]}]},
        "entities.0.fields.0.max_length",
        r"User\.link: max_length 7 is too short",
    ),
}


@pytest.mark.parametrize("case", list(CLASHING))
def test_a_clashing_spec_is_refused_by_the_spec_model_and_would_fail_generation(case: str) -> None:
    """The spec model (what the api validates with) refuses it naming the field, and the generator, given it
    without that validation, fails: nothing the model lets through fails later for these reasons."""
    spec, field, message = CLASHING[case]
    with pytest.raises(ValidationError) as refused:
        ProjectSpec.model_validate(spec)
    assert [".".join(str(part) for part in error["loc"]) for error in refused.value.errors()] == [field]
    request = GenerationRequest("full-stack", PROMPT, unchecked_spec(spec), PROJECT)
    with pytest.raises(GenerationError, match=message):
        TemplatedGenerator().generate(request)


# -- lint at every size the spec allows -----------------------------------------------------------

MAX_ENTITIES = ProjectSpec.model_fields["entities"].metadata[1].max_length
LONGEST_NAME = 64  # entity and field names: the patterns of snapinfra_shared.spec
FIELD_TYPES = ["string", "text", "integer", "number", "boolean", "datetime", "date", "email", "url", "uuid"]


def _long(prefix: str) -> str:
    return (prefix + "x" * LONGEST_NAME)[:LONGEST_NAME]


def _entity_name(i: int) -> str:
    return (f"Entity{i}" + "Ab" * LONGEST_NAME)[:LONGEST_NAME]  # each Ab adds a _ to snake names


def _v2_fields(i: int) -> list[dict[str, Any]]:
    """One field of every v2 kind, with every rule it takes, and a reference to the entity before (a chain of
    required references that restrict and cascade by turns)."""
    fields: list[dict[str, Any]] = [
        {"name": _long("decimal_field_"), "type": "decimal", "unique": True, "minimum": 0, "maximum": 1e9},
        {"name": _long("enum_field_"), "type": "enum", "values": ["first value", "second-value", "third.value"]},
        {"name": _long("list_field_"), "type": "list", "items": "decimal", "min_items": 1, "max_items": 1000},
        {"name": _long("unique_field_"), "type": "string", "unique": True, "min_length": 3, "max_length": 1_000_000},
        {"name": _long("default_field_"), "type": "datetime", "default": "2024-01-01T00:00:00Z"},
    ]
    if i > 1:
        rule = "cascade" if i % 2 else "restrict"
        fields.append({"name": _long("reference_field_"), "type": "reference", "references": _entity_name(i - 1)})
        fields[-1]["on_delete"] = rule
    return fields


def _longest_names_spec(count: int) -> dict[str, Any]:
    """`count` entities (Entity1..EntityN, unpadded, so 10 sorts after 9 only naturally) with names and field
    names as long as the spec allows, one field of every type each."""
    return {
        "entities": [
            {
                "name": _entity_name(i),
                "fields": [
                    {"name": _long(f"{kind}_field_"), "type": kind, "required": i % 2 == 0} for kind in FIELD_TYPES
                ]
                + _v2_fields(i),
            }
            for i in range(1, count + 1)
        ]
    }


def test_the_lint_sizes_reach_the_spec_limits() -> None:
    assert MAX_ENTITIES == 20
    ProjectSpec.model_validate(_longest_names_spec(MAX_ENTITIES))
    with pytest.raises(ValueError, match="at most 20"):
        ProjectSpec.model_validate(_longest_names_spec(MAX_ENTITIES + 1))


@pytest.mark.parametrize("project_type", ["api", "model", "full-stack"])
@pytest.mark.parametrize("count", [1, 9, 10, 11, MAX_ENTITIES])
def test_generated_python_passes_its_own_ruff_at_every_size(
    project_type: ProjectType, count: int, tmp_path: Path
) -> None:
    """`ruff check` and `ruff format --check` with the generated project's own settings, from one entity to the
    most the spec allows, with the longest names it allows, and the longest project name the service makes."""
    project_name = project_name_of("1" * 128)  # a projectId as long as the api allows
    assert len(project_name) == 68
    request = GenerationRequest(
        project_type, PROMPT, ProjectSpec.model_validate(_longest_names_spec(count)), project_name
    )
    root = _write(TemplatedGenerator().generate(request), tmp_path).parent / project_name
    assert (root / "pyproject.toml").is_file() and importlib.util.find_spec("ruff") is not None
    _ruff_clean(root)


@pytest.mark.parametrize("field_type", sorted(MIN_MAX_LENGTH))
def test_the_shortest_max_length_the_spec_model_allows_still_generates(field_type: str) -> None:
    """The spec model's floor for a max_length is the generator's shortest sample value: not one more."""
    shortest = MIN_MAX_LENGTH[field_type]
    spec = {"entities": [{"name": "User", "fields": [{"name": "link", "type": field_type, "max_length": shortest}]}]}
    assert _generate("full-stack", spec).files
    with pytest.raises(GenerationError, match="too short"):
        too_short = {"entities": [{**spec["entities"][0], "fields": [{**spec["entities"][0]["fields"][0]}]}]}
        too_short["entities"][0]["fields"][0]["max_length"] = shortest - 1
        TemplatedGenerator().generate(GenerationRequest("api", PROMPT, unchecked_spec(too_short), PROJECT))
