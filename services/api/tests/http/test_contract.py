"""The contract: every /api route is declared, /openapi.json is generated from the declarations, /docs
renders it, and schemathesis exercises every declared operation against a real server."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from pydantic.alias_generators import to_camel
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.test import TestResponse

from services.codegen.tests.test_templated_generator import CLASHING
from snapinfra_api.app import create_app
from snapinfra_api.bootstrap import build_dependencies
from snapinfra_api.http.contract import operation_of
from snapinfra_api.http.limits import IDEMPOTENT
from snapinfra_api.http.request import nesting_exceeds
from snapinfra_api.settings import ApiSettings

from ..conftest import As, api_settings
from ..deployments.test_deployments_api import completed_job
from ..test_isolation import seed_deployment, seed_subscriptions


def spec_with(**field: object) -> dict[str, Any]:
    return {"entities": [{"name": "Pilot", "fields": [{"name": "callsign", **field}]}]}


EXAMPLES = 15  # per operation and mode: bounds the run (about 30 operations after the merge)


def test_every_api_route_is_declared(app):
    undeclared = [
        f"{sorted(rule.methods - {'HEAD', 'OPTIONS'})} {rule.rule}"
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api") and operation_of(app.view_functions[rule.endpoint]) is None
    ]
    assert undeclared == [], f"routes without @documented(...): {undeclared}"


def test_the_document_covers_every_declared_route_with_resolvable_refs(client, app):
    document = client.get("/openapi.json").json
    assert document["openapi"] == "3.1.0"
    declared = {
        (rule.rule.replace("<", "{").replace(">", "}"), method.lower())
        for rule in app.url_map.iter_rules()
        if operation_of(app.view_functions[rule.endpoint])
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert documented == declared
    create = document["paths"]["/api/code-gen"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].startswith("#/components/schemas/")
    assert {"202", "400", "401", "409", "413", "415", "422", "429"} <= set(create["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in create["parameters"])
    assert "Retry-After" in create["responses"]["429"]["headers"]
    assert "403" in document["paths"]["/api/admin/queue-status"]["get"]["responses"]
    assert document["paths"]["/healthz"]["get"]["security"] == []
    stream = document["paths"]["/api/code-gen/{job_id}/events"]["get"]["responses"]["200"]["content"]
    assert list(stream) == ["text/event-stream"]
    schemas = document["components"]["schemas"]
    body = schemas[create["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]]
    assert {"projectId", "type", "prompt"} <= set(body["required"]) and body["additionalProperties"] is False
    assert body["properties"]["prompt"]["maxLength"] == 4000

    def refs(node):
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    missing = {r for r in refs(document) if r.rsplit("/", 1)[-1] not in schemas}
    assert missing == set()


def _page_references(page: str) -> list[str]:
    """Every address the /docs page makes a browser load (src and href attributes, and url(...) in CSS)."""
    return re.findall(r'(?:src|href)="([^"]*)"', page)


def test_docs_page_references_only_local_assets_and_each_is_served(client):
    response = client.get("/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert 'data-spec="/openapi.json"' in page
    references = _page_references(page)
    assert {urlsplit(r).path.rsplit("/", 1)[-1] for r in references} == {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "docs-init.js",
        "favicon-32x32.png",
    }
    expected_types = {".css": "text/css", ".js": "text/javascript", ".png": "image/png"}
    for reference in references:
        parts = urlsplit(reference)
        assert not parts.scheme and not parts.netloc and reference.startswith("/docs/assets/"), reference
        with client.get(reference) as asset:
            assert asset.status_code == 200, reference
            assert asset.mimetype == expected_types[PurePosixPath(parts.path).suffix], reference
            assert len(asset.get_data()) > 0
    with client.get(next(r for r in references if ".css" in r)) as response:
        css = response.get_data(as_text=True)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", css), "the stylesheet loads something from elsewhere"
    init = client.get(next(r for r in references if "docs-init.js" in r)).get_data(as_text=True)
    assert "validatorUrl: null" in init  # no online validator badge: nothing leaves the machine
    assert client.get("/docs/assets/LICENSE").status_code == 404
    assert client.get("/docs/assets/..%2Fflask_swagger_ui.py").status_code == 404


def test_the_root_points_a_person_at_the_docs(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.json["docs"] == "/docs" and response.json["openapi"] == "/openapi.json"


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (Debian: apt-get install chromium)")
def test_a_browser_renders_the_operations_offline(stack, serve, tmp_path):
    """Headless Chromium, with background networking off, loads /docs from a real loopback server and
    renders the operations: everything the page needs comes from the api."""
    deps = build_dependencies(api_settings(stack))
    with serve(create_app(dependencies=deps)) as base_url:
        command = [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=15000",
            "--dump-dom",
            f"{base_url}/docs",
        ]
        dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
    rendered = set(re.findall(r'class="opblock-summary-path"[^>]*data-path="([^"]+)"', dom))
    assert "/api/code-gen" in rendered and "/api/deployments/{deployment_id}" in rendered, dom[:2000]


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_the_running_api_keeps_its_contract(stack, serve):
    """Every documented operation (whatever routes exist when this runs), valid and invalid inputs, on a
    real server: no 5xx, and every answer's status, type, headers and body as the document says."""
    deps = build_dependencies(api_settings(stack, job_rate_burst=10_000, sse_max_seconds=2, sse_poll_seconds=0.2))
    with serve(create_app(dependencies=deps)) as base_url:
        schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
        schema.config.update(base_url=base_url)
        failures, exercised = {}, []
        for result in schema.get_all_operations():
            operation = result.ok()
            exercised.append(operation.label)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @given(case=operation.as_strategy(generation_mode=mode))
                @settings(
                    max_examples=EXAMPLES,
                    deadline=None,
                    suppress_health_check=list(HealthCheck),
                    derandomize=True,
                    database=None,
                    phases=[Phase.explicit, Phase.generate],
                )
                def call(case):
                    case.call_and_validate(headers={"x-dev-user-id": "admin"}, timeout=30, checks=CHECKS)

                try:
                    call()
                except Unsatisfiable:
                    assert mode is GenerationMode.NEGATIVE  # nothing to make invalid (no parameters, no body)
                except Exception as exc:  # collected, so one run reports every operation that breaks
                    failures[f"{operation.label} ({mode.value})"] = str(exc)[:2000]
    assert "POST /api/code-gen" in exercised and "GET /api/admin/queue-status" in exercised
    assert failures == {}, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())


def test_real_deployment_and_notification_answers_match_their_declared_models(stack):
    """Answers schemathesis cannot reach with made-up ids (a queued, a deployed and a destroying deployment,
    its step log, subscriptions with a secret, deliveries), each validated against the document."""
    deps = build_dependencies(api_settings(stack))
    client = create_app(dependencies=deps).test_client()
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json)
    owner = As(client, "owner")
    deployed = seed_deployment(owner, deps, stack).ids[0]
    seed_subscriptions(owner, deps, stack)
    queued = owner.post("/api/deployments", json={"codeGenId": completed_job(owner, deps), "environment": "dev"})
    assert queued.json["region"] is None and queued.json["deployedAt"] is None
    calls = [
        ("POST", "/api/deployments", queued),
        ("GET", "/api/deployments/{deployment_id}", owner.get(f"/api/deployments/{queued.json['id']}")),
        ("GET", "/api/deployments/{deployment_id}", owner.get(f"/api/deployments/{deployed}")),
        ("GET", "/api/deployments/{deployment_id}/events", owner.get(f"/api/deployments/{deployed}/events")),
        ("GET", "/api/deployments", owner.get("/api/deployments")),
        ("DELETE", "/api/deployments/{deployment_id}", owner.delete(f"/api/deployments/{deployed}")),
        (
            "POST",
            "/api/notifications/subscribe",
            owner.post("/api/notifications/subscribe", json={"email": "o@example.com"}),
        ),
        ("GET", "/api/notifications/subscriptions", owner.get("/api/notifications/subscriptions")),
        ("GET", "/api/notifications/deliveries", owner.get("/api/notifications/deliveries")),
    ]
    for method, path, response in calls:
        assert response.status_code < 300 and response.get_data(), (method, path, response.status_code)
        schema[path][method].validate_response(response)  # raises on any mismatch
    webhook = owner.post("/api/notifications/subscribe/webhook", json={"url": "https://h.example.com/x"})
    assert webhook.json["secret"].startswith("whsec_")
    schema["/api/notifications/subscribe/webhook"]["POST"].validate_response(webhook)


def sse_events(body: bytes) -> list[dict[str, str]]:
    """The events of a text/event-stream body (comments and data-less blocks, such as `retry:`, skipped)."""
    events = []
    for block in body.decode().split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        fields = dict(line.split(": ", 1) for line in lines)
        if "data" in fields:
            events.append(fields)
    return events


def test_every_event_of_a_job_stream_matches_its_declared_schema(stack):
    """A real stream, parsed: each event's name, id and JSON data validated against the schema the document
    declares for the stream (schemathesis reads the events and checks each `data` against its model)."""
    deps = build_dependencies(api_settings(stack, sse_poll_seconds=0.05, sse_max_seconds=30))
    client = create_app(dependencies=deps).test_client()
    operation = schemathesis.openapi.from_dict(client.get("/openapi.json").json)["/api/code-gen/{job_id}/events"]
    owner = As(client, "owner")

    done = owner.get(f"/api/code-gen/{completed_job(owner, deps)}/events")  # one status event, then the end
    assert [(e["event"], e["id"]) for e in sse_events(done.get_data())] == [("status", "completed")]
    operation["GET"].validate_response(done)

    queued = owner.post("/api/code-gen", json={"projectId": "p", "type": "api", "prompt": "a blog with posts"})
    followed = owner.get(f"/api/code-gen/{queued.json['id']}/events", buffered=False)
    chunks = followed.iter_encoded()
    body = b""
    while b"event: status" not in body:
        body += next(chunks)
    assert owner.delete(f"/api/code-gen/{queued.json['id']}").status_code == 204
    body += b"".join(chunks)  # ends at the deleted event (or, failing, after sse_max_seconds)
    replayed = TestResponse([body], 200, followed.headers, request=followed.request)
    events = sse_events(body)
    assert [e["event"] for e in events] == ["status", "deleted"] and json.loads(events[0]["data"])["status"] == "queued"
    operation["GET"].validate_response(replayed)

    # the check bites: an event whose data misses a field of its model, or an undeclared event, is refused
    for wrong in (body.replace(b'"status":"queued",', b""), body.replace(b"event: deleted", b"event: gone")):
        with pytest.raises(Exception, match=r"(?i)schema|required|valid"):
            operation["GET"].validate_response(TestResponse([wrong], 200, followed.headers, request=followed.request))


def _camel(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "entities": [
            {**e, "fields": [{to_camel(k): v for k, v in f.items()} for f in e["fields"]]} for e in spec["entities"]
        ]
    }


@pytest.mark.parametrize("case", list(CLASHING))
def test_a_spec_that_would_fail_generation_is_a_422_naming_the_field(client, case):
    """The table of clashing specs the codegen tests prove the generator fails on: each refused at the api."""
    spec, field, _ = CLASHING[case]
    body = {"projectId": "p", "type": "full-stack", "prompt": "x", "spec": _camel(spec)}
    response = As(client, "alice").post("/api/code-gen", json=body)
    assert response.status_code == 422, response.json
    wire_name = "spec." + ".".join(map(to_camel, field.split(".")))
    assert [f["field"] for f in response.json["error"]["fields"]] == [wire_name]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/notifications/subscribe", {"email": "a@example.com", "admin": 0}, "admin"),
        ("/api/notifications/subscribe", {"email": "a@example.com", "admin": 1}, "admin"),
        ("/api/notifications/subscribe/webhook", {"url": "https://h.example.com/x", "admin": "true"}, "admin"),
        ("/api/notifications/subscribe/sms", {"phone": "+14155552671", "admin": "false"}, "admin"),
        ("/api/code-gen", {"projectId": 123, "type": "api", "prompt": "x"}, "projectId"),
        (
            "/api/code-gen",
            {"projectId": "p", "type": "api", "prompt": "x", "spec": _camel(spec_with(required=0))},
            "spec.entities.0.fields.0.required",
        ),
        (
            "/api/code-gen",
            {"projectId": "p", "type": "api", "prompt": "x", "spec": _camel(spec_with(max_length="40"))},
            "spec.entities.0.fields.0.maxLength",
        ),
        (
            "/api/code-gen",
            {"projectId": "p", "type": "api", "prompt": "x", "spec": spec_with(max_length=40)},  # snake_case
            "spec.entities.0.fields.0.max_length",
        ),
        ("/api/deployments", {"code_gen_id": "0" * 8, "environment": "dev"}, "code_gen_id"),
    ],
)
def test_the_wire_is_strict_json_in_camel_case(client, path, body, field):
    """Booleans are true/false (not 0, 1 or "true"), strings and integers are not each other, and only the
    camelCase name of a field is accepted (the snake_case one is an unknown field): 422 naming the field."""
    response = As(client, "admin").post(path, json=body)
    assert response.status_code == 422, response.json
    assert field in [f["field"] for f in response.json["error"]["fields"]], response.json


def test_the_camel_case_spec_is_accepted_and_the_job_carries_it(client, deps):
    body = {"projectId": "p", "type": "api", "prompt": "x", "spec": _camel(spec_with(max_length=40))}
    response = As(client, "alice").post("/api/code-gen", json=body)
    assert response.status_code == 202, response.json
    stored = deps.repository.get("alice", response.json["id"])
    assert stored.spec.entities[0].fields[0].max_length == 40  # the services' own (snake_case) form


# -- JSON nested beyond the limit: 400 on every route that reads a body ------------------------------------


def routes_taking_a_body() -> list[tuple[str, str]]:
    """(method, path) of every route whose contract declares a JSON body, or that reads it for its
    Idempotency-Key fingerprint: read from the app's url_map, so a route is covered the day it is added."""
    app = create_app(ApiSettings(auth_mode="dev"), dependencies=object())  # only its routes are read
    found = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        operation = operation_of(view)
        if (operation is not None and operation.body is not None) or getattr(view, IDEMPOTENT, None):
            path = re.sub(r"<[^>]+>", str(uuid.uuid4()), rule.rule)
            found += [(method, path) for method in sorted(rule.methods - {"GET", "HEAD", "OPTIONS"})]
    return found


BODY_ROUTES = routes_taking_a_body()
DEPTH = 10_000


def test_the_routes_taking_a_body_are_found():
    assert {("POST", "/api/code-gen"), ("POST", "/api/deployments"), ("POST", "/api/notifications/subscribe")} <= set(
        BODY_ROUTES
    )


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
def test_json_nested_beyond_the_limit_is_400_naming_why_on_every_route_taking_a_body(client, method, path):
    bombs = {
        "arrays": "[" * DEPTH + "]" * DEPTH,
        "objects": '{"a":' * DEPTH + "1" + "}" * DEPTH,
        "inside a field": '{"projectId": ' + "[" * DEPTH + "]" * DEPTH + "}",
    }
    for name, bomb in bombs.items():
        for extra in ({}, {"Idempotency-Key": f"bomb-{uuid.uuid4().hex}"}):
            response = client.open(
                path,
                method=method,
                data=bomb,
                headers={"Content-Type": "application/json", "x-dev-user-id": "admin", **extra},
            )
            assert response.status_code == 400, (name, extra, response.status_code, response.get_data()[:300])
            assert response.mimetype == "application/json"
            error = response.json["error"]
            assert error["code"] == "json_too_deep" and "32 levels" in error["message"], (name, extra)
            assert error["fields"] == [{"field": "body", "message": "nested deeper than 32 levels"}]


def test_json_at_the_limit_is_parsed_and_validated(alice):
    at_the_limit = '{"projectId": "p", "type": "api", "prompt": "x", "extra": ' + "[" * 31 + "]" * 31 + "}"
    response = alice.post("/api/code-gen", data=at_the_limit, headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and response.json["error"]["fields"][0]["field"] == "extra"


@pytest.mark.parametrize(
    ("text", "too_deep"),
    [
        ("[" * 33 + "]" * 33, True),
        ("[" * 32 + "]" * 32, False),
        ('{"a": "' + "[" * 100 + '"}', False),  # brackets inside a string do not nest
        ('{"a": "\\\\", "b": ' + "[" * 33 + "]" * 33 + "}", True),  # an escaped backslash does not escape the quote
        ('{"a": "\\"[[[[' + "[" * 100 + '"}', False),  # an escaped quote does not end the string
        ("[]" * 1000, False),  # many, but side by side
        ("[" * 33 + "x", True),  # never closed: a parser would recurse before it meets the error
        ('[{"a": [' * 11, True),  # objects count as much as arrays
        ("[}" * 1000, False),  # malformed, not deep: the parser says so
    ],
)
def test_nesting_is_measured_outside_strings(text, too_deep):
    assert nesting_exceeds(text, 32) is too_deep
