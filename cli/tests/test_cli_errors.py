"""The snapinfra client's failures: each one a clear line (a JSON document under --json) and an exit code."""

from __future__ import annotations

import json
from importlib.metadata import version

from click.testing import CliRunner

from snapinfra_cli.main import main
from snapinfra_shared.local.embedded import LOCAL_CREDENTIALS, session_for

NO_AWS_SETTINGS = {  # nothing of the caller's: no keys, no region, no profile, no instance metadata
    "AWS_ACCESS_KEY_ID": None,
    "AWS_SECRET_ACCESS_KEY": None,
    "AWS_SESSION_TOKEN": None,
    "AWS_REGION": None,
    "AWS_DEFAULT_REGION": None,
    "AWS_PROFILE": None,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_MAX_ATTEMPTS": "1",
}


def no_aws_files(tmp_path):
    return {"AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}


def test_smoke_on_an_unreachable_endpoint_reports_each_check_and_exits_3():
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1"}
    result = CliRunner().invoke(main, ["--json", "smoke"], env={**env, **LOCAL_CREDENTIALS})
    assert result.exit_code == 3
    checks = json.loads(result.stdout)
    assert [c["passed"] for c in checks] == [False, False, False]
    assert all("Could not connect" in c["detail"] for c in checks)


def test_smoke_on_the_embedded_aws_needs_no_credentials_nor_region(aws_endpoint, tmp_path):
    env = {**NO_AWS_SETTINGS, **no_aws_files(tmp_path), "AWS_ENDPOINT_URL": aws_endpoint}
    result = CliRunner().invoke(main, ["smoke"], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("pass ") == 3 and "FAIL" not in result.stdout


def test_a_loopback_session_keeps_the_callers_own_settings_and_fills_only_the_missing(aws_endpoint, tmp_path):
    """Keys and region of the caller's are used on loopback (moto accepts any); missing ones are the embedded
    AWS's; a remote endpoint gets nothing made up."""
    env = {
        **NO_AWS_SETTINGS,
        **no_aws_files(tmp_path),
        "AWS_ENDPOINT_URL": aws_endpoint,
        "AWS_ACCESS_KEY_ID": "AKIAMINE",
        "AWS_SECRET_ACCESS_KEY": "mine",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    with CliRunner().isolation(env=env):
        session = session_for(aws_endpoint)
        assert session.get_credentials().access_key == "AKIAMINE" and session.region_name == "eu-west-1"
    with CliRunner().isolation(env={**NO_AWS_SETTINGS, **no_aws_files(tmp_path)}):
        session = session_for(aws_endpoint)
        expected = (LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"], LOCAL_CREDENTIALS["AWS_REGION"])
        assert (session.get_credentials().access_key, session.region_name) == expected
        remote = session_for("https://aws.example.com")  # not loopback: nothing is made up
        assert remote.get_credentials() is None and remote.region_name is None


def test_smoke_without_credentials_on_a_remote_endpoint_fails_each_check_with_exit_4(tmp_path):
    env = {**NO_AWS_SETTINGS, **no_aws_files(tmp_path), "AWS_ENDPOINT_URL": "https://aws.example.com"}
    result = CliRunner().invoke(main, ["smoke"], env=env)
    assert result.exit_code == 4
    assert result.stdout.count("FAIL") == 3
    assert "NoRegionError" in result.stdout or "NoCredentialsError" in result.stdout


def test_an_unreachable_api_exits_3():
    result = CliRunner().invoke(main, ["--api-url", "http://127.0.0.1:9", "codegen", "list"])
    assert result.exit_code == 3 and "cannot reach the API" in result.stderr


def test_an_unreachable_api_under_json_is_a_json_error():
    result = CliRunner().invoke(main, ["--json", "--api-url", "http://127.0.0.1:9", "codegen", "list"])
    assert result.exit_code == 3
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "unreachable" and "cannot reach the API" in error["message"]


def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"snapinfra, version {version('snapinfra-cli')}"
