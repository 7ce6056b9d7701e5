"""Every table of the client fits 80 columns with its ids whole; wider consoles show more columns."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from snapinfra_cli import main as cli

JOB_ID = "0193f1e2-7c4b-7d2a-9f10-3b8e5c6d7a81"
DEPLOYMENT_ID = "0193f1e2-9a0b-7c3d-8e4f-5a6b7c8d9e0f"
SUBSCRIPTION_ID = "0193f1e3-1111-7222-8333-944455566677"
EVENT_ID = "0193f1e4-aaaa-7bbb-8ccc-9dddeeefff00"
LONG = "a-rather-long-project-identifier-that-must-fold-somewhere-in-the-table"

CASES = {
    "code generations": (
        [
            {"id": JOB_ID, "projectId": LONG, "type": "full-stack", "status": "completed", "fileCount": 24,
             "createdAt": "2026-12-01T04:25:28.123456Z"},
        ],
        cli.CODEGEN_COLUMNS,
        [JOB_ID],
    ),
    "deployments": (
        [
            {"id": DEPLOYMENT_ID, "codeGenId": JOB_ID, "projectId": LONG, "environment": "staging",
             "status": "destroy_failed", "updatedAt": "2026-12-01T04:25:28Z"},
        ],
        cli.DEPLOYMENT_COLUMNS,
        [DEPLOYMENT_ID],
    ),
    "events": (
        [
            {"at": "2026-12-01T04:25:28.5Z", "source": "cloudformation", "message": "Resource creation Initiated",
             "logicalId": "SpaceshipTable", "resourceType": "AWS::DynamoDB::Table", "status": "CREATE_IN_PROGRESS",
             "reason": "Eventual consistency check initiated " * 3},
            {"at": "2026-12-01T04:25:29Z", "source": "deployer", "message": "stack created", "logicalId": None,
             "resourceType": None, "status": None, "reason": None},
        ],
        cli.EVENT_COLUMNS,
        [],
    ),
    "subscriptions": (
        [
            {"id": SUBSCRIPTION_ID, "channel": "webhook", "target": "https://hooks.example.com/" + "x" * 60,
             "status": "pending_confirmation", "eventTypes": ["deployment.*", "codegen.completed"]},
        ],
        cli.SUBSCRIPTION_COLUMNS,
        [SUBSCRIPTION_ID],
    ),
    "dead letters": (
        [{"type": "CodeGenerationRequested", "eventId": EVENT_ID, "receiveCount": 5, "error": "boom " * 40}],
        cli.DLQ_COLUMNS,
        [EVENT_ID],
    ),
}  # fmt: skip


def render(title: str, width: int) -> str:
    rows, columns, _ = CASES[title]
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(cli.table(title, rows, columns, width))
    return console.file.getvalue()  # type: ignore[attr-defined]


@pytest.mark.parametrize("title", list(CASES))
def test_each_table_fits_80_columns_with_its_ids_whole(title):
    text = render(title, 80)
    widest = max(len(line) for line in text.splitlines())
    assert widest <= 80, text
    for whole_id in CASES[title][2]:
        assert whole_id in text, text  # on one line, not cut or wrapped
    assert "None" not in text


def test_a_wide_console_shows_the_optional_columns():
    narrow, wide = render("deployments", 80), render("deployments", 160)
    assert "code generation" not in narrow and "updated (UTC)" not in narrow
    assert "code generation" in wide and JOB_ID in wide and "2026-12-01 04:25:28" in wide
