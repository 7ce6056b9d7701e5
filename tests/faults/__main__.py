"""`make faults` (`python -m tests.faults`): run the fault scenarios of issue 13 and print one row each.

    python -m tests.faults --jobs 300                  # the full run the issue asks for
    python -m tests.faults --jobs 40 --scenario poison # one scenario, fewer jobs

Everything runs on loopback: a fresh embedded AWS and the four services as separate processes per
scenario, a slow OpenAI-compatible model and a webhook receiver in this process. Logs of every
process are kept under --workdir.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from tests.faults.scenarios import SCENARIOS, Params, Row, run_scenario

COLUMNS = (
    "scenario",
    "accepted",
    "completed",
    "stuck",
    "failed",
    "dead-lettered",
    "poison in DLQ",
    "ZIPs/job",
    "webhooks/job",
    "webhook-ids/job",
    "HTTP 500",
    "wall s",
)


def cells(row: Row) -> list[str]:
    return [
        row.scenario + ("" if row.settled else " (deadline)"),
        f"{row.accepted}/{row.requested}",
        str(row.completed),
        str(row.stuck),
        str(row.failed),
        str(row.dead_lettered),
        f"{row.poison_dead_lettered}/{row.poison_sent}" if row.poison_sent else "-",
        f"{row.zips_min}-{row.zips_max}",
        f"{row.webhooks_min}-{row.webhooks_max}",
        f"max {row.webhook_ids_max}",
        str(row.http_500),
        f"{row.seconds:.0f}",
    ]


def print_table(rows: list[Row]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # plain aligned text
        table = [list(COLUMNS), *(cells(r) for r in rows)]
        widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
        for line in table:
            print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
    else:
        rich_table = Table(title="Fault suite (issue 13)")
        for column in COLUMNS:
            rich_table.add_column(column, justify="left" if column == "scenario" else "right")
        for row in rows:
            rich_table.add_row(*cells(row))
        Console(width=200).print(rich_table)
    for row in rows:
        misses = row.aims_met()
        print(f"{row.scenario}: {'aims met' if not misses else '; '.join(misses)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults", description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=300, help="jobs per scenario")
    parser.add_argument("--scenario", action="append", choices=list(SCENARIOS), help="repeatable; default all")
    parser.add_argument("--generation-seconds", type=float, default=3.0)
    parser.add_argument("--downtime-seconds", type=float, default=150.0, help="codegen down this long")
    parser.add_argument("--stall-seconds", type=float, default=Params.stall_seconds, help="moto stopped this long")
    parser.add_argument("--settle-timeout", type=float, default=900.0, help="longest wait after the fault")
    parser.add_argument("--quiet-seconds", type=float, default=15.0)
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="a setting of every service")
    parser.add_argument("--codegen-env", action="append", default=[], metavar="KEY=VALUE", help="a setting of codegen")
    parser.add_argument("--workdir", type=Path, default=None, help="logs of every process (default: a temp dir)")
    args = parser.parse_args(argv)
    params = Params(
        jobs=args.jobs,
        generation_seconds=args.generation_seconds,
        downtime_seconds=args.downtime_seconds,
        stall_seconds=args.stall_seconds,
        settle_timeout_seconds=args.settle_timeout,
        quiet_seconds=args.quiet_seconds,
        env=dict(item.split("=", 1) for item in args.env),
        codegen_env=dict(item.split("=", 1) for item in args.codegen_env),
    )
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="snapinfra-faults-"))
    print(f"logs under {workdir}", flush=True)
    rows = []
    for name in args.scenario or list(SCENARIOS):
        row = run_scenario(name, params, workdir / name.replace(" ", "-"))
        print(f"{name}: {cells(row)}", flush=True)
        rows.append(row)
    print_table(rows)
    return 0 if all(not r.aims_met() for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
