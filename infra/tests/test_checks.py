"""cfn-lint passes on every synthesized template; cdk-nag's AwsSolutions pack passes, and every
suppression says why."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path
from typing import Any


def test_cfn_lint_passes_on_every_template(synthesized: Any) -> None:
    templates = sorted(synthesized.directory.glob("*.template.json"))
    assert templates
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), *map(str, templates)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_cdk_nag_aws_solutions_finds_nothing_unsuppressed(synthesized: Any) -> None:
    assert synthesized.nag_errors == []
    (report,) = synthesized.directory.glob("AwsSolutions-*-NagReport.csv")
    rows = list(csv.DictReader(report.read_text().splitlines()))
    assert rows and {row["Compliance"] for row in rows} <= {"Compliant", "Suppressed"}


def test_every_suppression_gives_its_reason(synthesized: Any) -> None:
    suppressions = [
        (logical_id, rule)
        for logical_id, resource in synthesized.resources.items()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert suppressions, "the IAM wildcards that AWS requires are suppressed with a reason"
    for logical_id, rule in suppressions:
        assert rule["id"].startswith("AwsSolutions-")
        assert len(rule["reason"]) >= 60, f"{logical_id} {rule['id']}: say why, not just that"
    ids = {rule["id"] for _, rule in suppressions}
    assert ids <= {"AwsSolutions-IAM5", "AwsSolutions-ECS2", "AwsSolutions-COG8"}, ids
