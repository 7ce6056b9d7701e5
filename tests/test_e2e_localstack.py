"""The same end-to-end flow against LocalStack, started by testcontainers. Needs a Docker engine;
where none answers the test is skipped and says why."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.system import RunningSystem
from tests.test_e2e import run_the_guide_flow

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
