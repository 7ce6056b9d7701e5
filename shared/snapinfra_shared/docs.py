"""`python -m snapinfra_shared.docs --check|--write`: the generated reference pages, docs/events.md from the
event catalog and docs/settings.md from the services' settings classes."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from snapinfra_shared.catalog import markdown_table

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _settings() -> str:
    from snapinfra_shared.local.reference import markdown  # the dev tooling, which knows the services

    return markdown()


PAGES: dict[str, Callable[[], str]] = {"events.md": markdown_table, "settings.md": _settings}


def main(argv: list[str]) -> int:
    stale = []
    for name, render in PAGES.items():
        page, expected = DOCS / name, render()
        if "--write" in argv:
            DOCS.mkdir(exist_ok=True)
            page.write_text(expected)
            print(f"wrote {page}")
        elif not page.exists() or page.read_text() != expected:
            stale.append(name)
    for name in stale:
        print(f"{DOCS / name} is stale: run `make docs`", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
