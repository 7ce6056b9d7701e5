"""The snapinfra client's failures: each one a clear line and an exit code (no system needed)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from snapinfra_cli.main import main
from snapinfra_shared.local.embedded import LOCAL_CREDENTIALS


def test_smoke_reports_each_failure_with_its_reason():
    env = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
        **LOCAL_CREDENTIALS,
    }
    result = CliRunner().invoke(main, ["--json", "smoke"], env=env)
    assert result.exit_code == 4
    checks = json.loads(result.stdout)
    assert [c["passed"] for c in checks] == [False, False, False]
    assert all("Could not connect" in c["detail"] for c in checks)


def test_an_unreachable_api_exits_3():
    result = CliRunner().invoke(main, ["--api-url", "http://127.0.0.1:9", "codegen", "list"])
    assert result.exit_code == 3 and "cannot reach the API" in result.stderr
