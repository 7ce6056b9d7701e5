"""End to end: prompt → generated infrastructure → a running stack in the embedded AWS → destroyed,
through the public HTTP API of the whole system started as separate processes."""

from __future__ import annotations

import os
import time

import boto3
import pytest
import requests

from tests.system import RunningSystem

pytestmark = pytest.mark.e2e
HEADERS = {"x-dev-user-id": "test-user"}


def wait_for(url: str, statuses: set[str], timeout: float = 60) -> dict:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item = requests.get(url, headers=HEADERS, timeout=30).json()
        if not seen or seen[-1] != item["status"]:
            seen.append(item["status"])
        if item["status"] in statuses:
            return item
        time.sleep(0.1)
    raise AssertionError(f"{url} stayed {seen}")


def generate(api: str, project_type: str) -> str:
    body = {"projectId": f"fleet-{project_type}", "type": project_type, "prompt": "Track spaceships and pilots"}
    job = requests.post(f"{api}/api/code-gen", json=body, headers=HEADERS, timeout=10).json()
    assert wait_for(f"{api}/api/code-gen/{job['id']}", {"completed", "failed"})["status"] == "completed"
    return str(job["id"])


def deploy_and_destroy(api: str, dynamodb, job_id: str) -> None:
    response = requests.post(
        f"{api}/api/deployments", json={"codeGenId": job_id, "environment": "dev"}, headers=HEADERS, timeout=10
    )
    assert response.status_code == 202, response.text
    url = f"{api}{response.headers['Location']}"
    deployed = wait_for(url, {"deployed", "failed"})
    assert deployed["status"] == "deployed", deployed
    tables = [v for k, v in deployed["outputs"].items() if k.endswith("TableName")]
    assert len(tables) == 2 and all(t.startswith(deployed["stackName"]) for t in tables)
    for table in tables:  # the resources the stack declares exist in the embedded AWS
        assert dynamodb.describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE"

    log = requests.get(f"{url}/events", headers=HEADERS, timeout=10).json()["items"]
    assert log[0]["source"] == "deployer" and log[0]["message"].startswith("deploying code generation")
    assert any(e["source"] == "cloudformation" and e["status"] == "CREATE_COMPLETE" for e in log)

    destroying = requests.delete(url, headers=HEADERS, timeout=10)
    assert destroying.status_code == 202 and destroying.json()["status"] == "destroying"
    assert wait_for(url, {"destroyed", "destroy_failed"})["status"] == "destroyed"
    remaining = set(dynamodb.list_tables()["TableNames"])
    assert not remaining & set(tables)


def test_prompt_to_a_running_stack_and_back(tmp_path):
    with RunningSystem(tmp_path / "system.log") as system:
        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=system.aws,
            region_name="us-east-1",
            aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
            aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        )
        for project_type in ("infra", "full-stack"):
            deploy_and_destroy(system.api, dynamodb, generate(system.api, project_type))

        listed = requests.get(f"{system.api}/api/deployments?status=destroyed", headers=HEADERS, timeout=10).json()
        assert len(listed["items"]) == 2  # the records stay, as history
        api_job = generate(system.api, "api")
        refused = requests.post(
            f"{system.api}/api/deployments", json={"codeGenId": api_job, "environment": "dev"}, headers=HEADERS,
            timeout=10,
        )  # fmt: skip
        assert refused.status_code == 409
    assert '"level": "ERROR"' not in system.logs()
