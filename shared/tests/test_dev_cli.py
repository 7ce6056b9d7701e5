"""`snapinfra-dev`: the ready line once the api answers /readyz, and `tables` on the embedded AWS."""

from __future__ import annotations

import logging
import threading

from click.testing import CliRunner

from snapinfra_shared.local.cli import announce_when_ready, main, ready_line


def readiness_app(ready_after: int):
    """A WSGI app whose /readyz answers 503 to its first `ready_after` calls, then 200."""
    calls = {"readyz": 0}

    def app(environ, start_response):
        if environ["PATH_INFO"] != "/readyz":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b""]
        calls["readyz"] += 1
        ready = calls["readyz"] > ready_after
        start_response("200 OK" if ready else "503 Service Unavailable", [("Content-Type", "application/json")])
        return [b"{}"]

    return app, calls


def test_the_ready_line_names_every_url_and_says_the_embedded_aws_keeps_nothing():
    line = ready_line("http://127.0.0.1:5000", "http://127.0.0.1:4566", aws_in_memory=True)
    assert line.startswith(
        "ready: api http://127.0.0.1:5000  docs http://127.0.0.1:5000/docs  AWS http://127.0.0.1:4566"
    )
    assert "in memory" in line and "loses every job" in line
    elsewhere = ready_line("http://127.0.0.1:5000", "http://localstack:4566", aws_in_memory=False)
    assert "in memory" not in elsewhere and elsewhere.endswith("AWS http://localstack:4566")


def test_the_ready_line_is_logged_once_the_api_answers_readyz_and_not_before(serve, caplog):
    app, calls = readiness_app(ready_after=3)
    caplog.set_level(logging.INFO, logger="snapinfra.dev")
    with serve(app) as url:
        assert announce_when_ready(url, "ready: everything", threading.Event(), timeout=30, interval=0.01)
    assert calls["readyz"] == 4  # three 503s, then the 200 that let the line out
    assert [r.getMessage() for r in caplog.records if r.name == "snapinfra.dev"] == ["ready: everything"]


def test_no_ready_line_when_the_api_never_gets_ready(serve, caplog):
    app, calls = readiness_app(ready_after=10**9)
    caplog.set_level(logging.INFO, logger="snapinfra.dev")
    with serve(app) as url:
        assert not announce_when_ready(url, "ready: everything", threading.Event(), timeout=0.2, interval=0.01)
    assert calls["readyz"] >= 1
    ours = [r for r in caplog.records if r.name == "snapinfra.dev"]
    assert [r.levelname for r in ours] == ["WARNING"] and "not ready" in ours[0].getMessage()


def test_tables_lists_the_embedded_aws_tables_without_credentials(stack, tmp_path):
    env = {
        "AWS_ACCESS_KEY_ID": None,
        "AWS_SECRET_ACCESS_KEY": None,
        "AWS_REGION": None,
        "AWS_DEFAULT_REGION": None,
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    result = CliRunner().invoke(main, ["tables"], env=env)  # AWS_ENDPOINT_URL: the test session's moto
    assert result.exit_code == 0, result.output
    names = {spec.name for spec in stack.topology.tables.values()}
    assert names and names <= set(result.stdout.split())


def test_tables_on_an_unreachable_endpoint_is_one_clear_line_and_exit_3():
    result = CliRunner().invoke(main, ["tables", "--endpoint", "http://127.0.0.1:9"], env={"AWS_MAX_ATTEMPTS": "1"})
    assert result.exit_code == 3 and "cannot reach the AWS endpoint http://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.output
