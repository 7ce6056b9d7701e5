"""The services' metrics on the dashboard (metric filters on their JSON log lines), and the tracing flag's
ADOT collector beside each service, sending to X-Ray."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

from snapinfra_infra.cfn import render
from snapinfra_infra.compute import OTLP_HTTP_ENDPOINT, XRAY_ACTIONS
from snapinfra_shared.events import SERVICES
from snapinfra_shared.logs import ContextFilter, formatter


def _filters(synthesized: Any) -> list[dict[str, Any]]:
    return [f["Properties"] for f in synthesized.of_type("AWS::Logs::MetricFilter").values()]


def _log_group_of(synthesized: Any, service: str) -> str:
    (task,) = [
        t
        for t in synthesized.of_type("AWS::ECS::TaskDefinition").values()
        if t["Properties"]["ContainerDefinitions"][0]["Name"] == service
    ]
    group = task["Properties"]["ContainerDefinitions"][0]["LogConfiguration"]["Options"]["awslogs-group"]
    return str(group["Ref"])


def _json_line(message: str, logger: str = "snapinfra_shared.consumer", **extra: object) -> dict[str, Any]:
    """A log line as a service writes it in its container."""
    record = logging.LogRecord(logger, logging.INFO, __file__, 1, message, None, None)
    record.__dict__.update(extra)
    ContextFilter("api").filter(record)
    return dict(json.loads(formatter("json").format(record)))


def test_log_lines_become_metrics_with_their_labels_as_dimensions(synthesized: Any) -> None:
    namespace = f"Snapinfra/{synthesized.topology.prefix}"
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for f in _filters(synthesized):
        (transformation,) = f["MetricTransformations"]
        assert transformation["MetricNamespace"] == namespace
        by_metric.setdefault(transformation["MetricName"], []).append(f)
    assert sorted(by_metric) == ["Deliveries", "HandlerTime", "HttpLatency", "HttpRequests", "MessagesHandled"]
    # Every service counts the messages it handles and times its handlers; the api its requests; the notifier
    # its deliveries.
    for metric in ("MessagesHandled", "HandlerTime"):
        groups = {f["LogGroupName"]["Ref"] for f in by_metric[metric]}
        assert groups == {_log_group_of(synthesized, s) for s in SERVICES}
    for metric, service in (("HttpRequests", "api"), ("HttpLatency", "api"), ("Deliveries", "notifier")):
        assert [f["LogGroupName"]["Ref"] for f in by_metric[metric]] == [_log_group_of(synthesized, service)]
    # The fields the filters read are the ones the services' JSON lines have.
    lines = {
        "HttpRequests": _json_line(
            "request", "snapinfra.access", method="POST", route="/api/code-gen", status=202, ms=3.2, user_id="a"
        ),
        "MessagesHandled": _json_line("message handled", queue="q", outcome="ok", handler_ms=5.0, event_type="E"),
        "Deliveries": _json_line("delivery attempted", channel="email", outcome="succeeded", attempt=1),
    }
    lines["HttpLatency"], lines["HandlerTime"] = lines["HttpRequests"], lines["MessagesHandled"]
    for metric, filters in by_metric.items():
        (transformation,) = filters[0]["MetricTransformations"]
        line = lines[metric]
        assert f'$.message = "{line["message"]}"' in filters[0]["FilterPattern"]
        if transformation["MetricValue"].startswith("$."):  # a value read from a field is matched by the pattern
            assert f"{transformation['MetricValue']} >= 0" in filters[0]["FilterPattern"]
        fields = [transformation["MetricValue"], *transformation["Dimensions"]]
        for field in fields:
            path = field if isinstance(field, str) else field["Value"]
            if path.startswith("$."):
                assert path[2:] in line, (metric, path)


def test_the_dashboard_shows_the_services_metrics(synthesized: Any) -> None:
    (dashboard,) = synthesized.of_type("AWS::CloudWatch::Dashboard").values()
    body = json.loads(render(dashboard["Properties"]["DashboardBody"]))
    expressions = {
        metric[0]["expression"]
        for widget in body["widgets"]
        for metric in widget["properties"].get("metrics", [])
        if isinstance(metric[0], dict) and "expression" in metric[0]
    }
    namespace = f"Snapinfra/{synthesized.topology.prefix}"
    for metric, dimensions, statistic in (
        ("HttpRequests", "route,status", "Sum"),
        ("HttpLatency", "route", "p99"),
        ("MessagesHandled", "queue,outcome", "Sum"),
        ("HandlerTime", "event_type", "p90"),
        ("Deliveries", "channel,outcome", "Sum"),
    ):
        assert f"SEARCH('{{{namespace},{dimensions}}} MetricName=\"{metric}\"', '{statistic}', 300)" in expressions


def test_without_the_tracing_flag_no_collector_and_no_otlp_endpoint(synthesized: Any) -> None:
    for task in synthesized.of_type("AWS::ECS::TaskDefinition").values():
        (container,) = task["Properties"]["ContainerDefinitions"]
        assert not any(e["Name"].startswith("OTEL_") for e in container["Environment"])
    assert not any("xray:PutTraceSegments" in json.dumps(p) for p in synthesized.of_type("AWS::IAM::Policy").values())


def test_the_tracing_flag_puts_an_adot_collector_beside_each_service(synthesized_with_tracing: Any) -> None:
    synthesized = synthesized_with_tracing
    tasks = synthesized.of_type("AWS::ECS::TaskDefinition").values()
    assert len(tasks) == len(SERVICES)
    for task in tasks:
        service, collector = task["Properties"]["ContainerDefinitions"]
        assert collector["Name"] == "otel-collector" and collector["Essential"] is False
        assert collector["Image"] == synthesized.config.adot_image
        config = json.loads({e["Name"]: e["Value"] for e in collector["Environment"]}["AOT_CONFIG_CONTENT"])
        assert config["service"]["pipelines"]["traces"] == {
            "receivers": ["otlp"],
            "processors": ["batch/traces"],
            "exporters": ["awsxray"],
        }
        assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"] == "127.0.0.1:4318"
        assert "snapinfra.correlation_id" in config["exporters"]["awsxray"]["indexed_attributes"]
        env = {e["Name"]: e["Value"] for e in service["Environment"]}
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == OTLP_HTTP_ENDPOINT
        assert service["DependsOn"] == [{"ContainerName": "otel-collector", "Condition": "START"}]
        # The task role may write traces to X-Ray.
        role = task["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
        granted = [
            statement
            for policy in synthesized.of_type("AWS::IAM::Policy").values()
            if {"Ref": role} in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]
        assert any(sorted(s["Action"]) == sorted(XRAY_ACTIONS) and s["Resource"] == "*" for s in granted)
    assert synthesized.nag_errors == []
    templates = sorted(synthesized.directory.glob("*.template.json"))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), *map(str, templates)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
