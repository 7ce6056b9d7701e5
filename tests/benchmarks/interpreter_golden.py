"""Entity and reference precision/recall of the prompt interpreter on the golden set, with its misses.

    uv run python tests/benchmarks/interpreter_golden.py [--quiet]     (or: make bench-interpreter)

The golden set (services/api/tests/interpreter/golden.json) lists, per prompt, the entities and references a
person expects; "A|B" accepts either name, a reference is "Child->Parent" (the child holds the reference).
A prompt the interpreter refuses counts as predicting nothing. Offline, deterministic, a second or two.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snapinfra_api.interpreter import UninterpretablePrompt, infer_spec

SETS = Path(__file__).resolve().parents[2] / "services" / "api" / "tests" / "interpreter"
GOLDEN = SETS / "golden.json"
HOLDOUT = SETS / "holdout.json"  # kept out of tuning: its misses are printed only when asked


def _alternatives(name: str) -> frozenset[str]:
    return frozenset(name.split("|"))


@dataclass
class Tally:
    """Counts for one kind (entities or references) over the whole set."""

    expected: int = 0
    found: int = 0  # expected ones the interpreter gave
    predicted: int = 0
    correct: int = 0  # predicted ones that were expected
    misses: list[str] = field(default_factory=list)  # "prompt: what was expected and not given"
    extras: list[str] = field(default_factory=list)  # "prompt: what was given and not expected"

    @property
    def recall(self) -> float:
        return self.found / self.expected if self.expected else 1.0

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 1.0


@dataclass
class Report:
    cases: int
    entities: Tally
    references: Tally


def predict(prompt: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The entity names and (child, parent) references the interpreter infers; nothing when it refuses."""
    try:
        spec = infer_spec(prompt)
    except UninterpretablePrompt:
        return [], []
    names = [entity.name for entity in spec.entities]
    references = [
        (entity.name, f.references)
        for entity in spec.entities
        for f in entity.fields
        if f.type == "reference" and f.references is not None
    ]
    return names, references


def score(cases: list[dict[str, Any]]) -> Report:
    entities, references = Tally(), Tally()
    for case in cases:
        prompt = str(case["prompt"])
        names, pairs = predict(prompt)
        expected_entities = [_alternatives(str(e)) for e in case["entities"]]
        expected_refs = []
        for ref in case["references"]:
            child, parent = str(ref).split("->")
            expected_refs.append((_alternatives(child), _alternatives(parent)))

        entities.expected += len(expected_entities)
        entities.predicted += len(names)
        for alternatives in expected_entities:
            if alternatives & set(names):
                entities.found += 1
            else:
                entities.misses.append(f"{prompt!r}: {'|'.join(sorted(alternatives))}")
        for name in names:
            if any(name in alternatives for alternatives in expected_entities):
                entities.correct += 1
            else:
                entities.extras.append(f"{prompt!r}: {name}")

        references.expected += len(expected_refs)
        references.predicted += len(pairs)
        for children, parents in expected_refs:
            if any(c in children and p in parents for c, p in pairs):
                references.found += 1
            else:
                references.misses.append(f"{prompt!r}: {'|'.join(sorted(children))}->{'|'.join(sorted(parents))}")
        for child, parent in pairs:
            if any(child in children and parent in parents for children, parents in expected_refs):
                references.correct += 1
            else:
                references.extras.append(f"{prompt!r}: {child}->{parent}")
    return Report(len(cases), entities, references)


def load(path: Path = GOLDEN) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["cases"]
    return cases


def _figures(label: str, tally: Tally) -> str:
    return (
        f"{label:<11} precision {tally.precision:.3f} ({tally.correct}/{tally.predicted})"
        f"  recall {tally.recall:.3f} ({tally.found}/{tally.expected})"
    )


def _print_misses(report: Report) -> None:
    for label, tally in (("entities", report.entities), ("references", report.references)):
        print(f"\n{label} missed ({len(tally.misses)}):")
        for line in tally.misses:
            print(f"  {line}")
        print(f"{label} not expected ({len(tally.extras)}):")
        for line in tally.extras:
            print(f"  {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quiet", action="store_true", help="print the figures only, not the golden set's misses")
    parser.add_argument("--holdout-misses", action="store_true", help="also print the holdout set's misses")
    args = parser.parse_args()
    reports = {path: score(load(path)) for path in (GOLDEN, HOLDOUT)}
    for path, report in reports.items():
        print(f"{path.stem}: {report.cases} prompts")
        print("  " + _figures("entities", report.entities))
        print("  " + _figures("references", report.references))
    if not args.quiet:
        _print_misses(reports[GOLDEN])
    if args.holdout_misses:
        print("\nholdout:")
        _print_misses(reports[HOLDOUT])


if __name__ == "__main__":
    main()
