"""The same end-to-end flow against LocalStack, started by testcontainers, plus what only LocalStack can run
here: a full-stack deployment whose function answers at its ApiUrl (LocalStack runs it in a container, through
the Docker engine), and a notification. Needs a Docker engine; where none answers the test is skipped and says
why."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import yaml
from standardwebhooks.webhooks import Webhook

from tests.system import RunningSystem
from tests.test_e2e import run_the_guide_flow
from tests.test_e2e_deployments import HEADERS, generate, wait_for
from tests.test_e2e_notifications import eventually, receiver

pytestmark = [pytest.mark.e2e, pytest.mark.docker]


def docker_engine_problem() -> str | None:
    """Why Docker cannot be used here, or None when an engine answers."""
    if shutil.which("docker") is None:
        return "the docker command is not installed"
    try:
        info = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "docker info did not answer within 15 s"
    if info.returncode != 0:
        return f"no Docker engine answers: {(info.stderr or info.stdout).strip().splitlines()[-1][:200]}"
    return None


def test_the_guide_flow_on_localstack(tmp_path):
    problem = docker_engine_problem()
    if problem:
        pytest.skip(f"LocalStack needs Docker: {problem}")
    from testcontainers.community.localstack import LocalStackContainer

    tag = os.environ.get("LOCALSTACK_TAG", "4.14.0")
    container = LocalStackContainer(image=f"localstack/localstack:{tag}")
    container.with_env("SERVICES", localstack_services())
    # Lambda functions run in containers of their own, started through the host's engine.
    container.with_volume_mapping("/var/run/docker.sock", "/var/run/docker.sock", "rw")
    if os.environ.get("LOCALSTACK_AUTH_TOKEN"):
        container.with_env("LOCALSTACK_AUTH_TOKEN", os.environ["LOCALSTACK_AUTH_TOKEN"])
    with container:
        env = {
            "AWS_ENDPOINT_URL": container.get_url(),
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        with RunningSystem(tmp_path / "system.log", env=env, embedded=False) as system:
            run_the_guide_flow(system)
            a_notification(system)
            a_deployment_and_its_api(system, container.get_url())


def localstack_services() -> str:
    """The services LocalStack starts: the ones docker-compose.yml asks for (one list for both)."""
    compose = yaml.safe_load((Path(__file__).parent.parent / "docker-compose.yml").read_text())
    return str(compose["services"]["localstack"]["environment"]["SERVICES"])


def call(endpoint: str, api_url: str, method: str, path: str, body: object = None) -> requests.Response:
    """A request to a deployed HTTP API: sent to LocalStack's own port on loopback, its API named by the Host
    header (`<api id>.execute-api.localhost.localstack.cloud`), so no DNS lookup leaves the machine."""
    host = urlsplit(api_url).hostname or ""
    return requests.request(method, f"{endpoint}{path}", json=body, headers={"Host": host}, timeout=60)


def a_deployment_and_its_api(system: RunningSystem, endpoint: str) -> None:
    """A full-stack project deployed on LocalStack: its function answers at ApiUrl (create, read, list)."""
    job_id = generate(system.api, "full-stack")
    response = requests.post(
        f"{system.api}/api/deployments", json={"codeGenId": job_id, "environment": "dev"}, headers=HEADERS, timeout=10
    )
    assert response.status_code == 202, response.text
    url = f"{system.api}{response.headers['Location']}"
    deployed = wait_for(url, {"deployed", "failed"}, timeout=600)  # LocalStack pulls the runtime's image
    assert deployed["status"] == "deployed", deployed
    api_url = deployed["outputs"]["ApiUrl"]
    created = call(endpoint, api_url, "POST", "/spaceships", {"name": "Rocinante"})
    assert created.status_code == 201, created.text
    ship = created.json()
    assert call(endpoint, api_url, "GET", f"/spaceships/{ship['id']}").json() == ship
    assert ship in call(endpoint, api_url, "GET", "/spaceships").json()["items"]
    destroying = requests.delete(url, headers=HEADERS, timeout=10)
    assert destroying.status_code == 202
    assert wait_for(url, {"destroyed", "destroy_failed"}, timeout=300)["status"] == "destroyed"


def a_notification(system: RunningSystem) -> None:
    """A webhook subscription is told of a code generation, signed."""
    server, received = receiver()
    try:
        hook_url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        hook = requests.post(
            f"{system.api}/api/notifications/subscribe/webhook", json={"url": hook_url}, headers=HEADERS, timeout=10
        )
        assert hook.status_code == 201, hook.text
        job_id = generate(system.api, "api")
        eventually(lambda: any(b"codegen.completed" in body for _, body in received), timeout=120)
        for headers, body in received:
            payload = Webhook(hook.json()["secret"]).verify(body, headers)
            assert payload["data"]["job_id"] == job_id
    finally:
        server.shutdown()
