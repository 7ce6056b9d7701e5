"""`python -m snapinfra_shared.docs --check|--write`: docs/events.md is generated from the catalog."""

from __future__ import annotations

import sys
from pathlib import Path

from snapinfra_shared.catalog import markdown_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def main(argv: list[str]) -> int:
    expected = markdown_table()
    if "--write" in argv:
        DOC.parent.mkdir(exist_ok=True)
        DOC.write_text(expected)
        print(f"wrote {DOC}")
        return 0
    if not DOC.exists() or DOC.read_text() != expected:
        print(f"{DOC} is stale: run `make docs`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
