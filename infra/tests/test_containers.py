"""The container side without a Docker engine: the compose file against the Compose schema, the
topology and each service's settings; the Dockerfiles read statically; the ECS tasks' settings."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import ValidationError

from snapinfra_api.settings import ApiSettings
from snapinfra_codegen.settings import CodegenSettings
from snapinfra_deployer.settings import DeployerSettings
from snapinfra_notifier.settings import NotifierSettings
from snapinfra_shared.events import SERVICES
from snapinfra_shared.topology import build_topology

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = Path(__file__).parent / "schemas" / "compose-spec.json"
SETTINGS = {"api": ApiSettings, "codegen": CodegenSettings, "deployer": DeployerSettings, "notifier": NotifierSettings}
INTERPOLATION = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


def interpolate(value: str) -> str:
    """Compose's ${VAR:-default} with nothing set in the environment: the default."""
    return INTERPOLATION.sub(lambda m: m.group(2) or "", value)


def settings_from(environment: dict[str, str], service: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The service's settings object, built from exactly this environment (nothing inherited)."""
    for key in list(os.environ):
        if key.startswith("SNAPINFRA_"):
            monkeypatch.delenv(key)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    return SETTINGS[service]()


def test_the_compose_file_validates_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft201909Validator(schema).validate(compose)
    broken = {**compose, "services": {**compose["services"], "api": {**compose["services"]["api"], "prots": ["1:1"]}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft201909Validator(schema).validate(broken)


def test_every_service_is_built_from_its_own_dockerfile(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(SERVICES) <= set(services)
    for name, spec in services.items():
        if name == "localstack":
            assert spec["image"] == "localstack/localstack:${LOCALSTACK_TAG:-4.14.0}"
            assert spec["environment"]["LOCALSTACK_AUTH_TOKEN"] == "${LOCALSTACK_AUTH_TOKEN:-}"
            continue
        assert spec["build"]["context"] == "."
        dockerfile = spec["build"]["dockerfile"]
        assert (ROOT / dockerfile).is_file()
        if name in SERVICES:
            assert dockerfile == f"services/{name}/Dockerfile"
    assert services["api"]["ports"] == ["127.0.0.1:5000:5000"]


def test_start_is_ordered_and_health_checked(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["provision"]["depends_on"] == {"localstack": {"condition": "service_healthy"}}
    assert services["provision"]["entrypoint"][:2] == ["snapinfra-dev", "provision"]
    for name in SERVICES:
        assert services[name]["depends_on"] == {"provision": {"condition": "service_completed_successfully"}}
        assert services[name]["healthcheck"]["test"][0] == "CMD"
        assert services[name]["stop_grace_period"] == "30s"
    assert services["localstack"]["healthcheck"]["test"][0] == "CMD"


def test_compose_agrees_with_the_topology(compose: dict[str, Any]) -> None:
    services = compose["services"]
    provision_env = {k: interpolate(str(v)) for k, v in services["provision"]["environment"].items()}
    prefix = interpolate(services["provision"]["entrypoint"][-1])
    assert provision_env["SNAPINFRA_PREFIX"] == prefix
    topology = build_topology(prefix)
    assert provision_env["SNAPINFRA_BUCKET"] == topology.bucket
    for name in SERVICES:
        env = {k: interpolate(str(v)) for k, v in services[name]["environment"].items()}
        assert (env["SNAPINFRA_PREFIX"], env["SNAPINFRA_BUCKET"]) == (prefix, topology.bucket)
        assert env["AWS_ENDPOINT_URL"] == provision_env["AWS_ENDPOINT_URL"]


@pytest.mark.parametrize("service", SERVICES)
def test_compose_sets_every_required_setting(
    compose: dict[str, Any], service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {k: interpolate(str(v)) for k, v in compose["services"][service]["environment"].items()}
    settings = settings_from(env, service, monkeypatch)
    assert settings.topology().bucket == env["SNAPINFRA_BUCKET"]
    if service in ("api", "notifier"):  # webhooks to the compose network's services and the host, as `make dev`
        assert {"127.0.0.1", "localhost"} <= set(settings.webhook_allowed_hosts)
    if service == "notifier":  # links point at the api as the host reaches it
        assert str(settings.public_base_url).rstrip("/") == "http://127.0.0.1:5000"
        assert settings.email_sender == env["SNAPINFRA_EMAIL_SENDER"]
    if service == "api":
        monkeypatch.delenv("SNAPINFRA_AUTH_MODE")
        with pytest.raises(ValidationError):  # the check can fail: jwt mode without its issuer
            SETTINGS[service]()


@pytest.mark.parametrize("service", SERVICES)
def test_each_ecs_task_sets_every_required_setting(
    synthesized: Any, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from snapinfra_infra.cfn import render

    (task,) = [
        t
        for t in synthesized.of_type("AWS::ECS::TaskDefinition").values()
        if t["Properties"]["ContainerDefinitions"][0]["Name"] == service
    ]
    raw = {e["Name"]: e["Value"] for e in task["Properties"]["ContainerDefinitions"][0]["Environment"]}
    env = {name: render(value) for name, value in raw.items()}
    (http_api,) = synthesized.of_type("AWS::ApiGatewayV2::Api")
    endpoint = "https://abc123.execute-api.us-east-1.amazonaws.com"  # what the HTTP API's ApiEndpoint resolves to
    if service == "notifier":
        assert raw["SNAPINFRA_PUBLIC_BASE_URL"] == {"Fn::GetAtt": [http_api, "ApiEndpoint"]}
        env["SNAPINFRA_PUBLIC_BASE_URL"] = endpoint
    if service == "deployer":  # what the execution role's Arn resolves to
        env["SNAPINFRA_CLOUDFORMATION_ROLE_ARN"] = "arn:aws:iam::123456789012:role/Snapinfra-DeploymentExecutionRole"
    settings = settings_from(env, service, monkeypatch)
    assert settings.prefix == synthesized.topology.prefix
    assert settings.topology().bucket == synthesized.topology.bucket
    if service == "api":
        assert settings.auth_mode == "jwt" and settings.jwt_jwks_url.endswith("/.well-known/jwks.json")
        assert settings.webhook_allowed_hosts == []  # production: webhooks reach public https hosts only
    if service == "notifier":
        assert settings.email_sender == synthesized.config.email_sender
        assert str(settings.public_base_url).rstrip("/") == endpoint
        assert settings.webhook_allowed_hosts == []
    if service == "deployer":
        role = render(raw["SNAPINFRA_CLOUDFORMATION_ROLE_ARN"]).removeprefix("${").removesuffix(".Arn}")
        trust = synthesized.resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert settings.cloudformation_role_arn and trust[0]["Principal"] == {"Service": "cloudformation.amazonaws.com"}


def dockerfile_instructions(service: str) -> list[tuple[str, str]]:
    text = (ROOT / "services" / service / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


@pytest.mark.parametrize("service", SERVICES)
def test_each_dockerfile_is_multi_stage_slim_non_root_health_checked_and_exec_form(service: str) -> None:
    instructions = dockerfile_instructions(service)
    kinds = [k for k, _ in instructions]
    froms = [arg for k, arg in instructions if k == "FROM"]
    assert len(froms) >= 2
    (base,) = {arg for k, arg in instructions if k == "ARG" and arg.startswith("PYTHON_IMAGE=")}
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11-slim(-\w+)?", base)
    last_from = max(i for i, k in enumerate(kinds) if k == "FROM")
    users = [arg for k, arg in instructions[last_from:] if k == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    (healthcheck,) = [arg for k, arg in instructions if k == "HEALTHCHECK"]
    assert isinstance(json.loads(healthcheck.split("CMD", 1)[1]), list)
    (entrypoint,) = [arg for k, arg in instructions if k == "ENTRYPOINT"]
    assert json.loads(entrypoint) == [f"snapinfra-{service}"], "exec form: the service is PID 1 and gets SIGTERM"
    for k, arg in instructions:
        if k == "CMD":
            assert isinstance(json.loads(arg), list)
    env = " ".join(arg for k, arg in instructions[last_from:] if k == "ENV")
    assert "MALLOC_ARENA_MAX=2" in env


@pytest.mark.parametrize("service", SERVICES)
def test_each_image_installs_only_its_own_package_and_shared(service: str) -> None:
    instructions = dockerfile_instructions(service)
    copied = {arg.split()[0] for k, arg in instructions if k == "COPY" and not arg.startswith("--from")}
    assert copied == {"pyproject.toml", "shared", f"services/{service}"}
    (run,) = [arg for k, arg in instructions if k == "RUN" and "uv export" in arg]
    assert f"--package snapinfra-{service}" in run and "--no-dev" in run
    assert f"./shared ./services/{service}" in run
    export = re.search(r"uv export (.*?) --output-file", run)
    assert export
    flags = [f for f in export.group(1).split() if f != "--frozen"]
    uv = os.environ.get("UV") or shutil.which("uv")  # `uv run` names itself in UV
    if not uv:
        pytest.skip("uv is not on PATH: cannot export the lock file as the Dockerfile does")
    requirements = subprocess.run(
        [uv, "export", "--frozen", "--no-hashes", *flags],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = {line.split("==")[0] for line in requirements.splitlines() if "==" in line}
    assert {"boto3", "pydantic"} <= names
    assert not names & {"aws-cdk-lib", "moto", "pytest", "honcho", "cfn-lint"}, "nothing of dev or infra"
    assert not any(name.startswith("snapinfra") for name in names), "workspace packages are installed from source"
    if service == "api":
        assert {"flask", "gunicorn", "click"} <= names  # click: the compose provisioning step runs snapinfra-dev
    elif service == "codegen":  # it vendors Flask and apig-wsgi into full-stack projects' functions; serves nothing
        assert {"flask", "apig-wsgi"} <= names and "gunicorn" not in names
    else:
        assert not names & {"flask", "gunicorn"}, "a worker does not carry the api's server"
