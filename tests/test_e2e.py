"""End to end: the whole system started as separate processes the way `make dev` starts it, used
through its public HTTP API as the guide's user would."""

from __future__ import annotations

import io
import os
import time
import zipfile

import boto3
import pytest
import requests

from tests.system import RunningSystem

pytestmark = pytest.mark.e2e
GUIDE_REQUEST = {"projectId": "project-123", "type": "api", "prompt": "Create a REST API for user management"}
HEADERS = {"x-dev-user-id": "test-user"}


def wait_for(api: str, job_id: str, statuses: set[str], timeout: float = 60) -> dict:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(f"{api}/api/code-gen/{job_id}", headers=HEADERS, timeout=30).json()
        if not seen or seen[-1] != job["status"]:
            seen.append(job["status"])
        if job["status"] in statuses:
            job["seen"] = seen
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} stayed {seen}")


def run_the_guide_flow(system: RunningSystem) -> None:
    api = system.api
    response = requests.post(
        f"{api}/api/code-gen", json=GUIDE_REQUEST, headers={**HEADERS, "X-Request-Id": "e2e-1"}, timeout=10
    )
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] == "queued"
    assert response.headers["Location"] == f"/api/code-gen/{job['id']}"

    done = wait_for(api, job["id"], {"completed", "failed"})
    assert done["status"] == "completed", done
    assert done["fileCount"] > 5 and done["sizeBytes"] > 0

    signed = requests.get(f"{api}/api/code-gen/{job['id']}/download-url", headers=HEADERS, timeout=30).json()
    blob = requests.get(signed["url"], timeout=30)
    assert blob.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(blob.content))
    names = archive.namelist()
    assert "project-123/README.md" in names and "project-123/requirements.txt" in names
    assert any(name.endswith(".py") and "user" in name.lower() for name in names)
    assert len(names) == done["fileCount"]
    streamed = requests.get(f"{api}/api/code-gen/{job['id']}/download", headers=HEADERS, timeout=30)
    assert streamed.content == blob.content

    listed = requests.get(f"{api}/api/code-gen?projectId=project-123", headers=HEADERS, timeout=30).json()
    assert [j["id"] for j in listed["items"]] == [job["id"]]

    # The correlation id travelled from the request through the events to every worker's log lines. The
    # notifier handles the job's events on its own time (on a loaded machine it may still be starting).
    for service in ("codegen", "notifier"):
        deadline = time.monotonic() + 60
        while not any(
            '"correlation_id": "e2e-1"' in line
            for line in system.logs().splitlines()
            if f" {service} " in line.split("|")[0]
        ):
            assert time.monotonic() < deadline, f"{service} logged nothing of the request e2e-1"
            time.sleep(0.3)

    assert requests.delete(f"{api}/api/code-gen/{job['id']}", headers=HEADERS, timeout=30).status_code == 204
    s3 = boto3.client(
        "s3",
        endpoint_url=system.aws,
        region_name="us-east-1",
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
    )
    deadline = time.monotonic() + 30
    prefix = f"codegen/test-user/{job['id']}/"
    while s3.list_object_versions(Bucket=f"{system.prefix}-storage", Prefix=prefix).get("Versions"):
        assert time.monotonic() < deadline, "the artifact was not deleted"
        time.sleep(0.2)


def test_the_guide_flow_on_the_embedded_aws(tmp_path):
    system = RunningSystem(tmp_path / "system.log")
    with system:
        run_the_guide_flow(system)
        assert system.interrupt() == 130  # honcho's exit code after Ctrl-C
    logs = system.logs()
    for service in ("api", "codegen", "deployer", "notifier"):
        assert f"{service} stopped (rc=0)" in logs, logs[-3000:]
    assert "SIGKILL" not in logs, "a service did not stop on Ctrl-C within honcho's grace"
    assert '"level": "ERROR"' not in logs


def test_an_endpoint_in_aws_endpoint_url_is_used_instead_of_starting_one(tmp_path, aws_endpoint):
    """`make dev` with AWS_ENDPOINT_URL set (LocalStack, another emulator): no moto of its own."""
    env = {
        "AWS_ENDPOINT_URL": aws_endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
    }
    system = RunningSystem(tmp_path / "system.log", env=env, embedded=False)
    with system:
        run_the_guide_flow(system)
    logs = system.logs()
    assert f"using the AWS endpoint in AWS_ENDPOINT_URL: {aws_endpoint}" in logs
    assert "aws started" not in logs
