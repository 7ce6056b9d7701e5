"""The snapinfra client against the whole system running as processes (as `make dev` runs it)."""

from __future__ import annotations

import json
import re
import zipfile
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner

from snapinfra_cli.main import main
from snapinfra_shared.local.embedded import LOCAL_CREDENTIALS
from tests.system import RunningSystem
from tests.test_e2e_notifications import eventually, receiver, texts_to

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    with RunningSystem(tmp_path_factory.mktemp("cli") / "system.log") as running:
        yield running


def snapinfra(system, *args, user="cli-user", env=None):
    runner = CliRunner()
    return runner.invoke(main, ["--api-url", system.api, "--user", user, *args], env=env or {}, catch_exceptions=False)


def test_codegen_create_waits_for_the_job_and_downloads_its_zip(system, tmp_path):
    target = tmp_path / "users.zip"
    result = snapinfra(
        system,
        "--json",
        "codegen",
        "create",
        "--type",
        "api",
        "--prompt",
        "Create a REST API for user management",
        "--project-id",
        "cli-project",
        "--output",
        str(target),
    )
    assert result.exit_code == 0, result.output
    job = json.loads(result.stdout)
    assert job["status"] == "completed" and job["zip"] == str(target)
    names = zipfile.ZipFile(target).namelist()
    assert len(names) == job["fileCount"] and "cli-project/README.md" in names

    listed = snapinfra(system, "--json", "codegen", "list", "--project-id", "cli-project")
    assert [j["id"] for j in json.loads(listed.stdout)] == [job["id"]]
    got = snapinfra(system, "codegen", "get", job["id"])
    assert got.exit_code == 0 and "completed" in got.stdout
    assert snapinfra(system, "codegen", "delete", job["id"]).exit_code == 0
    gone = snapinfra(system, "codegen", "get", job["id"])
    assert gone.exit_code == 1 and "404 not_found" in gone.stderr


LIBRARY_SPEC = {
    "entities": [
        {"name": "Author", "fields": [{"name": "name"}]},
        {
            "name": "Book",
            "fields": [{"name": "title"}, {"name": "author_id", "type": "reference", "references": "Author"}],
        },
        {
            "name": "Loan",
            "fields": [
                {"name": "book_id", "type": "reference", "references": "Book", "onDelete": "cascade"},
                {"name": "due_on", "type": "date"},
            ],
        },
    ]
}


def test_a_generation_has_its_architecture_diagram_in_the_zip_and_through_the_api(system, tmp_path):
    spec = tmp_path / "library.json"
    spec.write_text(json.dumps(LIBRARY_SPEC))
    zipped, svg = tmp_path / "library.zip", tmp_path / "library.svg"
    created = snapinfra(
        system, "--json", "codegen", "create", "--type", "infra", "--prompt", "A library: books, authors, loans",
        "--project-id", "library", "--spec", str(spec), "--output", str(zipped),
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    job = json.loads(created.stdout)
    saved = snapinfra(system, "codegen", "diagram", job["id"], "-o", str(svg))
    assert saved.exit_code == 0, saved.output
    root = ElementTree.fromstring(svg.read_bytes())
    words = {"".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"Author", "Book", "Loan", "author_id", "book_id", "→ Author", "→ Book", "cascade"} <= words
    assert {"Author table", "Book table", "Loan table", "CloudFormation stack (template.yaml)"} <= words
    with zipfile.ZipFile(zipped) as archive:
        assert archive.read("library/docs/architecture.svg") == svg.read_bytes()
        readme = archive.read("library/README.md").decode()
    assert 'Author ||--o{ Book : "author_id"' in readme and 'Book ||--o{ Loan : "book_id, cascade"' in readme


def test_admin_queue_status_needs_admin_rights(system):
    refused = snapinfra(system, "admin", "queue-status")
    assert refused.exit_code == 1 and "403 forbidden" in refused.stderr
    result = snapinfra(system, "--json", "admin", "queue-status", user="admin")
    assert result.exit_code == 0, result.output
    services = {q["service"] for q in json.loads(result.stdout)["queues"]}
    assert services == {"api", "codegen", "deployer", "notifier"}
    queues = {q["queue"]["name"].split("-", 1)[1] for q in json.loads(result.stdout)["queues"]}
    assert queues == {"api", "codegen", "deployer", "notifier", "notifier-deliveries"}
    table = snapinfra(system, "admin", "queue-status", user="admin")
    assert "codegen" in table.stdout and "queue" in table.stdout and "DLQ" in table.stdout


def test_bad_input_is_refused_with_the_field_named(system):
    result = snapinfra(system, "codegen", "create", "--type", "api", "--prompt", "x" * 4001, "--no-wait")
    assert result.exit_code == 1 and "prompt" in result.stderr and "4000" in result.stderr


def test_smoke_checks_the_aws_endpoint_and_cleans_up(system):
    env = {"AWS_ENDPOINT_URL": system.aws, "AWS_REGION": "us-east-1", **LOCAL_CREDENTIALS}
    result = snapinfra(system, "smoke", env=env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "pass S3 upload and download",
        "pass SQS send and receive",
        "pass SNS publish",
    ]
    import boto3

    session = boto3.session.Session(region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    for client, listing, key in (("s3", "list_buckets", "Buckets"), ("sqs", "list_queues", "QueueUrls")):
        names = json.dumps(
            getattr(session.client(client, endpoint_url=system.aws), listing)().get(key, []), default=str
        )
        assert "snapinfra-smoke-" not in names


def json_of(system, *args, user="cli-deployer"):
    result = snapinfra(system, "--json", *args, user=user)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_deploy_an_infra_generation_and_destroy_it_told_by_webhook(system, tmp_path):
    server, received = receiver()
    try:
        hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
        webhook = json_of(system, "subscribe", "webhook", hook, "--event-type", "deployment.*")
        assert webhook["secret"].startswith("whsec_") and webhook["status"] == "active"
        email = json_of(system, "subscribe", "email", "dee@example.com", "--status", "completed")
        sms = json_of(system, "subscribe", "sms", "+14155550123", "--project-id", "cli-infra")
        assert (email["status"], email["statuses"], sms["projectId"]) == (
            "pending_confirmation",
            ["completed"],
            "cli-infra",
        )
        assert sms["status"] == "pending_confirmation"
        (text,) = eventually(lambda: texts_to(system, "+14155550123"))
        code = re.search(r"Snapinfra code: ([0-9]{6})\.", text["message"]).group(1)
        wrong = snapinfra(system, "confirm", sms["id"], f"{(int(code) + 1) % 10**6:06d}", user="cli-deployer")
        assert wrong.exit_code == 1 and "wrong_code" in wrong.stderr
        assert json_of(system, "confirm", sms["id"], code) == {"subscriptionId": sms["id"], "status": "confirmed"}
        listed = json_of(system, "subscriptions")
        assert {s["id"]: s["channel"] for s in listed} == {
            webhook["id"]: "webhook",
            email["id"]: "email",
            sms["id"]: "sms",
        } and all("secret" not in s for s in listed)

        created = snapinfra(
            system, "codegen", "create", "--type", "infra", "--prompt", "Track spaceships and pilots",
            "--project-id", "cli-infra", "--output", str(tmp_path / "infra.zip"), user="cli-deployer",
        )  # fmt: skip
        # Each status line comes only from the job's event stream (SSE), never from polling; the live display
        # and the status lines it keeps go to stderr, the result to stdout.
        assert created.exit_code == 0 and "  completed" in created.stderr.splitlines(), created.output
        assert "completed: " in created.stdout, created.stdout
        [job] = json_of(system, "codegen", "list", "--project-id", "cli-infra")
        deployed = json_of(system, "deploy", "create", "--codegen-id", job["id"], "--environment", "staging", "--wait")
        assert deployed["status"] == "deployed" and deployed["codeGenId"] == job["id"], deployed
        assert deployed["stackName"].startswith("snapinfra-staging-") and deployed["outputs"]
        assert [d["id"] for d in json_of(system, "deploy", "list", "--status", "deployed")] == [deployed["id"]]
        shown = snapinfra(system, "deploy", "get", deployed["id"], user="cli-deployer")
        assert shown.exit_code == 0 and deployed["stackName"] in shown.stdout
        log = json_of(system, "deploy", "events", deployed["id"])
        assert any(e["source"] == "cloudformation" and e["status"] == "CREATE_COMPLETE" for e in log)
        assert snapinfra(system, "deploy", "get", deployed["id"]).exit_code == 1  # another user's: 404

        destroyed = json_of(system, "deploy", "destroy", deployed["id"], "--wait")
        assert destroyed["status"] == "destroyed" and destroyed["destroyedAt"], destroyed
        kinds = eventually(
            lambda: (
                {json.loads(body)["kind"] for _, body in received} >= {"deployment.completed", "deployment.destroyed"}
                and sorted(json.loads(body)["kind"] for _, body in received)
            )
        )
        assert all(k.startswith("deployment.") for k in kinds), kinds
    finally:
        server.shutdown()
        server.server_close()
    for sub in (webhook, email, sms):
        assert json_of(system, "unsubscribe", sub["id"]) == {"id": sub["id"], "deleted": True}
    assert json_of(system, "subscriptions") == []


def test_deploy_create_wait_prints_the_api_url_of_a_full_stack_project(system, tmp_path):
    created = snapinfra(
        system, "codegen", "create", "--type", "full-stack", "--prompt", "Track spaceships and pilots",
        "--project-id", "cli-fleet", "--output", str(tmp_path / "fleet.zip"), user="cli-fullstack",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    [job] = json_of(system, "codegen", "list", "--project-id", "cli-fleet", user="cli-fullstack")
    deployed = snapinfra(
        system, "deploy", "create", "--codegen-id", job["id"], "--environment", "dev", "--wait", user="cli-fullstack"
    )
    assert deployed.exit_code == 0, deployed.output
    assert "outputs:" in deployed.stdout
    assert re.search(r"^  ApiUrl: https://\S+\.execute-api\.\S+$", deployed.stdout, re.MULTILINE), deployed.stdout
    assert re.search(r"^  SpaceshipTableName: snapinfra-dev-\S+$", deployed.stdout, re.MULTILINE), deployed.stdout
