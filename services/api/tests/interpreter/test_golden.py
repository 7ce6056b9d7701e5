"""The golden-set benchmark as a regression floor: its figures may rise, not fall below what was measured.

Measured when written (uv run python tests/benchmarks/interpreter_golden.py): golden 72 prompts, entities
P 0.972 R 0.972, references P 0.940 R 0.919; holdout 20 prompts, entities P 0.929 R 0.929, references
P 0.773 R 0.586. The floors sit a little below, so a change that loses a few of them fails here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[4] / "tests" / "benchmarks" / "interpreter_golden.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("interpreter_golden", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_the_golden_set_is_large_and_well_formed(bench: ModuleType) -> None:
    cases = bench.load(bench.GOLDEN)
    assert len(cases) >= 60
    assert len({case["prompt"] for case in cases}) == len(cases)
    for case in cases:
        for reference in case["references"]:
            child, parent = reference.split("->")
            names = {name for entity in case["entities"] for name in entity.split("|")}
            assert set(child.split("|")) & names and set(parent.split("|")) & names, (case["prompt"], reference)


def test_the_scorer_counts_hits_misses_and_extras(bench: ModuleType) -> None:
    cases = [
        {"prompt": "a blog with posts and comments", "entities": ["Post", "Comment"], "references": ["Comment->Post"]},
        {"prompt": "hello", "entities": ["Greeting"], "references": []},  # refused: predicts nothing
        {"prompt": "manage users", "entities": ["Person|Member"], "references": []},
    ]
    report = bench.score(cases)
    assert (report.entities.expected, report.entities.found) == (4, 2)
    assert (report.entities.predicted, report.entities.correct) == (3, 2)
    assert report.entities.recall == pytest.approx(0.5) and report.entities.precision == pytest.approx(2 / 3)
    assert report.references.recall == 1.0 and report.references.precision == 1.0
    assert report.entities.misses == ["'hello': Greeting", "'manage users': Member|Person"]
    assert report.entities.extras == ["'manage users': User"]


def test_golden_set_figures_stay_above_their_floor(bench: ModuleType) -> None:
    report = bench.score(bench.load(bench.GOLDEN))
    assert report.entities.recall >= 0.95, report.entities.misses
    assert report.entities.precision >= 0.94, report.entities.extras
    assert report.references.recall >= 0.89, report.references.misses
    assert report.references.precision >= 0.9, report.references.extras


def test_holdout_figures_stay_above_their_floor(bench: ModuleType) -> None:
    report = bench.score(bench.load(bench.HOLDOUT))
    assert report.entities.recall >= 0.89
    assert report.entities.precision >= 0.89
    assert report.references.recall >= 0.55
    assert report.references.precision >= 0.72
