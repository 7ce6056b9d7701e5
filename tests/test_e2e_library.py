"""End to end: the library prompt, with its spec v2 (Author; Book with an author reference, a decimal price and
an enum status; Loan with a book reference and dates), through the running system to a ZIP whose own test
suite passes, including the tests of a dangling reference, a refused delete, a cascade, a filter and the order.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.system import RunningSystem

pytestmark = pytest.mark.e2e
HEADERS = {"x-dev-user-id": "librarian"}
PROMPT = "A library system with books, authors and loans"
# As a client sends it: camelCase, like the rest of the api.
LIBRARY_SPEC: dict[str, Any] = {
    "entities": [
        {
            "name": "Author",
            "fields": [
                {"name": "name", "type": "string", "minLength": 1, "maxLength": 200},
                {"name": "email", "type": "email", "required": False, "unique": True},
            ],
        },
        {
            "name": "Book",
            "fields": [
                {"name": "title", "type": "string", "minLength": 1, "maxLength": 300},
                {"name": "isbn", "type": "string", "unique": True, "minLength": 10, "maxLength": 17},
                {"name": "author_id", "type": "reference", "references": "Author"},
                {"name": "price", "type": "decimal", "minimum": 0, "maximum": 10000},
                {"name": "status", "type": "enum", "values": ["available", "loaned", "lost"], "default": "available"},
            ],
        },
        {
            "name": "Loan",
            "fields": [
                {"name": "book_id", "type": "reference", "references": "Book", "onDelete": "cascade"},
                {"name": "borrower", "type": "string", "minLength": 1, "maxLength": 100},
                {"name": "borrowed_on", "type": "date"},
                {"name": "due_on", "type": "date"},
                {"name": "returned_on", "type": "date", "required": False},
            ],
        },
    ]
}
# Tests of the generated suite that must be among those that passed.
MUST_PASS = [
    "test_book_routes.py::test_create_refuses_a_reference_to_a_missing_item[author_id]",
    "test_loan_routes.py::test_create_refuses_a_reference_to_a_missing_item[book_id]",
    "test_book_routes.py::test_deleting_an_item_this_one_refers_to[Author]",  # 409: books restrict
    "test_loan_routes.py::test_deleting_an_item_this_one_refers_to[Book]",  # 204: loans cascade
    "test_book_routes.py::test_list_filters_by_field[author_id]",
    "test_book_routes.py::test_list_filters_by_field[status]",
    "test_book_routes.py::test_list_refuses_an_unknown_filter",
    "test_book_routes.py::test_list_pages_through_every_item_in_creation_order",
    "test_book_routes.py::test_a_cursor_stays_valid_when_items_are_added_and_its_item_deleted",
    "test_book_routes.py::test_a_unique_value_cannot_be_taken_twice[isbn]",
    "test_book_routes.py::test_a_decimal_keeps_every_digit[price]",
    "test_app.py::test_openapi_document_describes_every_route",
    "test_app.py::test_table_variable_selects_dynamodb[AWS_REGION]",
    "test_dynamodb.py::test_routes_against_dynamodb[Book]",
]


def _wait_completed(api: str, job_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = requests.get(f"{api}/api/code-gen/{job_id}", headers=HEADERS, timeout=30).json()
        if job["status"] in ("completed", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def _run_suite(root: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AWS_")) and k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider"],
        cwd=root,  # the generated project's own pytest settings, not this repository's
        env={**env, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    return result.stdout


def test_the_library_prompt_gives_a_project_whose_own_suite_passes(tmp_path: Path) -> None:
    with RunningSystem(tmp_path / "system.log") as system:
        body = {"projectId": "library", "type": "full-stack", "prompt": PROMPT, "spec": LIBRARY_SPEC}
        response = requests.post(f"{system.api}/api/code-gen", json=body, headers=HEADERS, timeout=10)
        assert response.status_code == 202, response.text
        job = _wait_completed(system.api, response.json()["id"])
        assert job["status"] == "completed", job
        assert job["entities"] == ["Author", "Book", "Loan"]
        blob = requests.get(f"{system.api}/api/code-gen/{job['id']}/download", headers=HEADERS, timeout=30)
        assert blob.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(blob.content))
    archive.extractall(tmp_path / "zip")
    root = tmp_path / "zip" / "library"
    for name in (".env.example", ".github/workflows/ci.yml", "app/openapi.py", "infra/template.yaml"):
        assert (root / name).is_file(), name
    assert "AWS_REGION=" in (root / ".env.example").read_text()
    assert "pytest" in (root / ".github/workflows/ci.yml").read_text()
    readme = (root / "README.md").read_text()
    assert "GET /books?author_id=<id>" in readme and "GET /loans?book_id=<id>" in readme

    output = _run_suite(root)
    passed = set(re.findall(r"^PASSED tests/(\S+)", output, flags=re.MULTILINE))
    missing = [name for name in MUST_PASS if name not in passed]
    assert not missing, output[-4000:]
    assert not re.search(r"\d+ (failed|error|skipped)", output), output[-3000:]
