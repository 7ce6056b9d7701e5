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


def check_function(aws, deployed: dict) -> str:
    """A full-stack stack runs its API as a function behind an HTTP API: both exist, and `ApiUrl` is the API's.
    (The embedded AWS cannot run the function: calling the URL is the LocalStack test's.)"""
    name = f"{deployed['stackName']}-api"
    function = aws("lambda").get_function(FunctionName=name)["Configuration"]
    assert function["Handler"] == "app.lambda_handler.handler" and function["Runtime"].startswith("python3.")
    assert set(function["Environment"]["Variables"]) == {"SPACESHIP_TABLE_NAME", "PILOT_TABLE_NAME"}
    api_id = deployed["outputs"]["ApiUrl"].removeprefix("https://").split(".", 1)[0]
    assert aws("apigatewayv2").get_api(ApiId=api_id)["Name"] == name
    return name


def deploy_and_destroy(api: str, dynamodb, job_id: str, aws=None) -> None:
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
    function = check_function(aws, deployed) if aws is not None else None
    assert ("ApiUrl" in deployed["outputs"]) == (function is not None)

    log = requests.get(f"{url}/events", headers=HEADERS, timeout=10).json()["items"]
    assert log[0]["source"] == "deployer" and log[0]["message"].startswith("deploying code generation")
    assert any(e["source"] == "cloudformation" and e["status"] == "CREATE_COMPLETE" for e in log)

    destroying = requests.delete(url, headers=HEADERS, timeout=10)
    assert destroying.status_code == 202 and destroying.json()["status"] == "destroying"
    assert wait_for(url, {"destroyed", "destroy_failed"})["status"] == "destroyed"
    remaining = set(dynamodb.list_tables()["TableNames"])
    assert not remaining & set(tables)
    if function is not None:
        assert function not in {f["FunctionName"] for f in aws("lambda").list_functions()["Functions"]}


def test_prompt_to_a_running_stack_and_back(tmp_path):
    with RunningSystem(tmp_path / "system.log") as system:

        def aws(service: str):
            return boto3.client(
                service,
                endpoint_url=system.aws,
                region_name="us-east-1",
                aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
                aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
            )

        dynamodb = aws("dynamodb")
        deploy_and_destroy(system.api, dynamodb, generate(system.api, "infra"))
        deploy_and_destroy(system.api, dynamodb, generate(system.api, "full-stack"), aws)

        listed = requests.get(f"{system.api}/api/deployments?status=destroyed", headers=HEADERS, timeout=10).json()
        assert len(listed["items"]) == 2  # the records stay, as history
        api_job = generate(system.api, "api")
        refused = requests.post(
            f"{system.api}/api/deployments", json={"codeGenId": api_job, "environment": "dev"}, headers=HEADERS,
            timeout=10,
        )  # fmt: skip
        assert refused.status_code == 409
    assert '"level": "ERROR"' not in system.logs()
