"""Every shell block of the README and docs/ runs, as written, against a running system: the docs cannot
drift from the product.

A page's ```bash blocks run in order in one bash session (a variable one block sets is there for the next),
in a scratch directory beside a link to this checkout's `.venv`, with `set -euo pipefail`, so any command
that fails fails the test. `curl` fails on an HTTP error (it runs with `--fail-with-body`), and the
documented addresses (the api on `http://localhost:5000`, the embedded AWS on `http://127.0.0.1:4566`)
are those of the system this test started. A block that cannot run here is marked
on the line before its fence with `<!-- docs-test: skip <the reason> -->` (make dev itself, a real AWS
account, a Docker engine, a host outside this machine); the reason is required.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.system import RunningSystem

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<body>.*?)^```", re.S | re.M)
SKIP = re.compile(r"<!-- docs-test: skip\s+(?P<reason>(?:(?!-->).)+?)\s*-->\s*$")
SHELLS = {"bash", "sh", "shell"}

# curl as the docs write it, with an HTTP error made a failure.
PRELUDE = r"""
set -euo pipefail
curl() { command curl --silent --show-error --fail-with-body "$@"; }
"""


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    body: str
    skip: str | None  # the reason it does not run here, or None


def blocks(page: Path) -> list[Block]:
    text = page.read_text()
    found = []
    for match in FENCE.finditer(text):
        if match["lang"] not in SHELLS:
            continue
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = SKIP.search(before)
        found.append(Block(page, line, match["body"], marker["reason"] if marker else None))
    return found


# The pages a newcomer follows on this machine: each must have commands that run (only the cloud and Docker
# pages may be all skips).
MUST_RUN = {"README.md", "usage.md", "cli.md", "deployments.md", "api.md"}


def test_every_skip_says_why_and_the_newcomer_s_pages_run() -> None:
    every = [block for page in PAGES for block in blocks(page)]
    assert all(block.skip for block in every if block.skip is not None), "a skip marker needs its reason"
    running = {block.page.name for block in every if block.skip is None}
    assert running >= MUST_RUN, f"no command runs on {sorted(MUST_RUN - running)}"


def test_a_marker_without_a_reason_is_not_a_skip(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- docs-test: skip -->\n```bash\necho hi\n```\n<!-- docs-test: skip needs AWS -->\n```bash\nx\n```\n"
    )
    assert [block.skip for block in blocks(page)] == [None, "needs AWS"]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    with RunningSystem(tmp_path_factory.mktemp("docs") / "system.log") as running:
        yield running


RUNNABLE = [page for page in PAGES if any(block.skip is None for block in blocks(page))]


@pytest.mark.parametrize("page", RUNNABLE, ids=[page.name for page in RUNNABLE])
def test_the_page_s_commands_work_as_written(page: Path, system: RunningSystem, tmp_path: Path) -> None:
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SNAPINFRA_", "AWS_"))}
    env |= {"SNAPINFRA_API_URL": system.api, "AWS_ENDPOINT_URL": system.aws, "HOME": str(tmp_path), "NO_COLOR": "1"}
    script = PRELUDE
    for block in blocks(page):
        if block.skip is None:
            body = block.body.replace("http://localhost:5000", system.api).replace("http://127.0.0.1:4566", system.aws)
            script += f"\necho '### {page.name}:{block.line}'\n{body}"
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"{page.name}: exit {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
