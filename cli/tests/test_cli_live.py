"""The client against a real api on loopback (the read model fed as its queue would): filters, whole ids in
80 columns, JSON errors, `get` without empty fields, `deploy create --wait` with its outputs, and
`deploy events --follow`."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from snapinfra_cli import main as cli
from snapinfra_shared import catalog

USER = "cli-user"


def run(live_api, *args, **env):
    return CliRunner().invoke(
        cli.main, ["--api-url", live_api.url, "--user", USER, *args], env={"COLUMNS": "80", **env}
    )


def create(live_api, project_type, project_id="fleet"):
    result = run(
        live_api, "--json", "codegen", "create", "--no-wait", "--type", project_type, "--prompt", "Track ships",
        "--project-id", project_id,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_codegen_list_filters_by_status_and_type_and_shows_whole_ids_in_80_columns(live_api):
    api_job, infra_job = create(live_api, "api"), create(live_api, "infra")
    live_api.complete(USER, infra_job)

    by_type = json.loads(run(live_api, "--json", "codegen", "list", "--type", "infra").stdout)
    assert [j["id"] for j in by_type] == [infra_job["id"]]
    by_status = json.loads(run(live_api, "--json", "codegen", "list", "--status", "queued").stdout)
    assert [j["id"] for j in by_status] == [api_job["id"]]
    both = json.loads(run(live_api, "--json", "codegen", "list", "--status", "completed", "--type", "api").stdout)
    assert both == []

    text = run(live_api, "codegen", "list").stdout
    assert api_job["id"] in text and infra_job["id"] in text
    assert max(len(line) for line in text.splitlines()) <= 80, text


def test_get_prints_no_empty_fields(live_api):
    job = create(live_api, "api")
    text = run(live_api, "codegen", "get", job["id"]).stdout
    assert f"id: {job['id']}" in text and "status: queued" in text
    assert "None" not in text and "null" not in text


def test_an_api_refusal_under_json_is_the_apis_error_as_json(live_api):
    result = run(live_api, "--json", "codegen", "get", "0193f1e2-7c4b-7d2a-9f10-3b8e5c6d7a81")
    assert result.exit_code == 1 and result.stdout == ""
    error = json.loads(result.stderr)["error"]
    assert error["status"] == 404 and error["code"] == "not_found"
    bad = run(live_api, "--json", "deploy", "create", "--codegen-id", "x", "--param", "novalue")
    assert bad.exit_code == 2 and json.loads(bad.stderr)["error"]["code"] == "bad_usage"


def _progress(live_api, deployment, **steps):
    ids = {"deployment_id": deployment["id"], "stack_name": deployment["stackName"]}
    step = {"at": datetime.now(UTC), "source": "cloudformation", **steps}
    live_api.deliver("deployer", "DeploymentProgressed", USER, **ids, steps=[step])


def _complete(live_api, deployment):
    ids = {"deployment_id": deployment["id"], "stack_name": deployment["stackName"]}
    live_api.deliver(
        "deployer", "DeploymentCompleted", USER, **ids, stack_id="arn:s", region="us-east-1",
        outputs={"SpaceshipTableName": "fleet-spaceships"}, completed_at=datetime.now(UTC),
    )  # fmt: skip


@pytest.fixture
def completed_infra(live_api):
    job = create(live_api, "infra")
    live_api.complete(USER, job)
    return job


def test_deploy_create_wait_prints_the_outputs(live_api, completed_infra, monkeypatch):
    monkeypatch.setattr(cli, "POLL_SECONDS", 0.05)
    accepted = threading.Event()
    real_post = cli.Api.post

    def post_then_signal(self, *args, **kwargs):
        answer = real_post(self, *args, **kwargs)
        accepted.set()
        return answer

    monkeypatch.setattr(cli.Api, "post", post_then_signal)
    result: dict[str, object] = {}
    waiter = threading.Thread(
        target=lambda: result.update(
            r=run(live_api, "deploy", "create", "--codegen-id", completed_infra["id"], "--wait", "--timeout", "60")
        )
    )
    waiter.start()
    assert accepted.wait(30)
    listed = json.loads(run(live_api, "--json", "deploy", "list").stdout)
    _complete(live_api, listed[0])
    waiter.join(60)
    outcome = result["r"]
    assert outcome.exit_code == 0, outcome.output
    assert f"deployment {listed[0]['id']}: deployed" in outcome.stdout
    assert "SpaceshipTableName" in outcome.stdout and "fleet-spaceships" in outcome.stdout


def test_deploy_events_follow_prints_each_step_once_until_the_deployment_settles(
    live_api, completed_infra, monkeypatch
):
    monkeypatch.setattr(cli, "POLL_SECONDS", 0.05)
    created = run(live_api, "--json", "deploy", "create", "--codegen-id", completed_infra["id"])
    deployment = json.loads(created.stdout)
    polls = threading.Condition()
    count = {"polls": 0}
    real_get = cli.Api.get

    def counting_get(self, path, **params):
        answer = real_get(self, path, **params)
        if path == f"/api/deployments/{deployment['id']}":
            with polls:
                count["polls"] += 1
                polls.notify_all()
        return answer

    def two_more_polls():  # a whole poll of the step log after the change
        with polls:
            target = count["polls"] + 2
            assert polls.wait_for(lambda: count["polls"] >= target, timeout=30)

    monkeypatch.setattr(cli.Api, "get", counting_get)
    result: dict[str, object] = {}
    follower = threading.Thread(
        target=lambda: result.update(
            r=run(live_api, "--json", "deploy", "events", deployment["id"], "--follow", "--timeout", "60")
        )
    )
    follower.start()
    two_more_polls()
    _progress(live_api, deployment, message="CREATE_IN_PROGRESS", status="CREATE_IN_PROGRESS", logical_id="Table")
    two_more_polls()
    _progress(live_api, deployment, message="stack almost there", status="CREATE_IN_PROGRESS")
    two_more_polls()
    assert follower.is_alive()  # still following: the deployment has not settled
    _complete(live_api, deployment)
    follower.join(60)
    outcome = result["r"]
    assert outcome.exit_code == 0, outcome.output
    messages = [json.loads(line)["message"] for line in outcome.stdout.splitlines()]
    assert messages.count("CREATE_IN_PROGRESS") == 1 and messages.count("stack almost there") == 1
    assert messages.index("CREATE_IN_PROGRESS") < messages.index("stack almost there")
    text = run(live_api, "deploy", "events", deployment["id"], "--follow").stdout
    assert "stack almost there" in text and f"deployment {deployment['id']}: deployed" in text


def test_codegen_diagram_saves_the_svg_once_the_job_is_completed(live_api, stack, tmp_path, monkeypatch):
    job = create(live_api, "api")
    early = run(live_api, "--json", "codegen", "diagram", job["id"], "-o", str(tmp_path / "early.svg"))
    assert early.exit_code != 0 and json.loads(early.stderr)["error"]["code"] == "not_completed"
    assert not (tmp_path / "early.svg").exists()

    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><text>Spaceship</text></svg>'
    base = f"codegen/{USER}/{job['id']}/attempt-1/"
    stack.clients.s3.put_object(Bucket=stack.topology.bucket, Key=base + "architecture.svg", Body=svg)
    artifact = catalog.Artifact(
        bucket=stack.topology.bucket, key=base + "fleet.zip", manifest_key=base + "manifest.json", size_bytes=1,
        file_count=2, sha256="0" * 64, diagram_key=base + "architecture.svg",
    )  # fmt: skip
    live_api.deliver(
        "codegen", "CodeGenerationCompleted", USER, job_id=job["id"], project_id=job["projectId"],
        project_type="api", generator="templated", artifact=artifact, completed_at=datetime.now(UTC),
    )  # fmt: skip

    target = tmp_path / "fleet.svg"
    saved = run(live_api, "codegen", "diagram", job["id"], "-o", str(target))
    assert saved.exit_code == 0, saved.output
    assert target.read_bytes() == svg and f"to {target}" in saved.stdout
    monkeypatch.chdir(tmp_path)  # without -o: <job id>-architecture.svg here
    named = json.loads(run(live_api, "--json", "codegen", "diagram", job["id"]).stdout)
    assert named == {"id": job["id"], "svg": f"{job['id']}-architecture.svg", "bytes": len(svg)}
    assert (tmp_path / named["svg"]).read_bytes() == svg
