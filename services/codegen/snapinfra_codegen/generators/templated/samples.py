"""Example values for the generated tests and README: two valid values per field, and invalid ones.

Valid values are given in the form the API returns them (e.g. datetimes in UTC with a "Z"), so a test
can compare what it sent with what it got back. Invalid values are Python source expressions, so that
"one character too long" stays short for a field whose max_length is a million.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter

from snapinfra_codegen.generators.base import GenerationError
from snapinfra_codegen.generators.templated.naming import EntityNames, FieldNames
from snapinfra_shared.spec import FieldSpec

Value = str | int | float | bool | list[Any] | None
SERIES = 5  # how many distinct items the generated tests create at most (pagination, order, unique values)
_SAMPLE_IDS = uuid.UUID("6f1c1d3e-2b7a-4c5e-9d8f-0a1b2c3d4e5f")  # namespace of the ids of seeded items

_FIXED: dict[str, tuple[Value, Value]] = {
    "integer": (42, 7),
    "number": (19.5, 3.25),
    "boolean": (True, False),
    "datetime": ("2024-05-01T12:30:00Z", "2025-01-02T03:04:05Z"),
    "date": ("2024-05-01", "2025-01-02"),
    "uuid": ("0b7e7f9e-8d1c-4a8e-9f1d-2f0c5b8e6a11", "5f3c2a1b-7d4e-4f6a-8b9c-0d1e2f3a4b5c"),
}
# Pairs from the most readable to the shortest; the first pair that fits max_length is used.
_CANDIDATES: dict[str, tuple[tuple[str, str], ...]] = {
    "email": (("first@example.com", "second@example.com"), ("f@example.io", "s@example.io"), ("f@e.i", "s@e.i")),
    "url": (
        ("https://example.com/first", "https://example.com/second"),
        ("https://e.io/1", "https://e.io/2"),
        ("http://a", "http://b"),
    ),
}
_LONGEST_LABEL = 30  # a field name longer than this is not repeated in its sample values
_STRING_LIKE = frozenset({"string", "text", "email", "url"})


def applies_max_length(field: FieldNames) -> bool:
    """max_length only constrains string-like types; the spec allows it elsewhere but it means nothing there."""
    return field.spec.max_length is not None and field.spec.type in _STRING_LIKE


def literal(value: Value) -> str:
    """Python source for a sample value, with double-quoted strings."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    return repr(value)


def sample_id(entity: str, index: int) -> str:
    """The id of the index-th item of `entity` the generated tests store before they run (see PARENTS)."""
    return str(uuid.uuid5(_SAMPLE_IDS, f"{entity}-{index}"))


def _numbers(spec: FieldSpec, preferred: Value, count: int) -> list[Value]:
    """Up to `count` distinct valid values of a numeric field, from `preferred` when the range allows it."""
    kind = spec.type
    low = None if spec.minimum is None else Decimal(str(spec.minimum))
    high = None if spec.maximum is None else Decimal(str(spec.maximum))
    start = Decimal(str(preferred))
    if (low is not None and start < low) or (high is not None and start > high):
        start = low if low is not None else high  # type: ignore[assignment]
    step = Decimal(1)
    if kind != "integer" and low is not None and high is not None and high - low < count:
        step = (high - low) / count
    found: list[Decimal] = []
    for k in range(count):
        for candidate in (start + step * k, start - step * k):
            inside = (low is None or candidate >= low) and (high is None or candidate <= high)
            if inside and candidate not in found:
                found.append(candidate)
                break
    if kind == "integer":
        return [int(value) for value in found]
    if kind == "number":
        return [float(value) for value in found]
    return [str(value.normalize()) if value != value.to_integral_value() else str(int(value)) for value in found]


def _inside(spec: FieldSpec, value: Value) -> bool:
    number = Decimal(str(value))
    low, high = spec.minimum, spec.maximum
    return (low is None or number >= Decimal(str(low))) and (high is None or number <= Decimal(str(high)))


def _fit_length(spec: FieldSpec, value: str) -> str:
    """Pad a string-like sample to min_length (the max_length was met when it was chosen)."""
    need = (spec.min_length or 0) - len(value)
    if need <= 0:
        return value
    if spec.type == "email":
        return "x" * need + value
    return value + "x" * need


def _scalar_values(entity: EntityNames, spec: FieldSpec, kind: str) -> tuple[Value, Value]:
    """Two valid values of a scalar type (the items of a list have no bounds of their own)."""
    plain = FieldNames(spec=FieldSpec(name=spec.name, type=kind), attribute=spec.name, alias=None)
    return valid_values(entity, plain)


def valid_values(entity: EntityNames, field: FieldNames) -> tuple[Value, Value]:
    """Two different valid values for the field (the second is used for updates), where the type and its
    bounds allow two."""
    spec = field.spec
    max_length = spec.max_length if applies_max_length(field) else None
    if spec.type == "enum":
        values = spec.values or []
        return values[0], values[1] if len(values) > 1 else values[0]
    if spec.type == "reference":
        return None, None  # filled in by the generated tests' seeded items (see reference_values)
    if spec.type == "list":
        first, second = _scalar_values(entity, spec, spec.items or "string")
        size = max(spec.min_items or 0, min(2, spec.max_items or 2))
        pattern = [first, second] * size
        return pattern[:size], (pattern[1 : size + 1] if size > 1 else [second])
    if spec.type in ("integer", "number", "decimal"):
        preferred = _FIXED.get(spec.type, ("19.99", "5.25"))
        if all(_inside(spec, value) for value in preferred):
            return preferred
        numbers = _numbers(spec, preferred[0], 2)
        return numbers[0], numbers[-1]
    if spec.type in _FIXED:
        return _FIXED[spec.type]
    if spec.type in _CANDIDATES:
        for first, second in _CANDIDATES[spec.type]:
            if max_length is None or len(second) <= max_length:
                return _fit_length(spec, first), _fit_length(spec, second)
        shortest = len(_CANDIDATES[spec.type][-1][0])
        raise GenerationError(
            f"{entity.name}.{spec.name}: max_length {max_length} is too short for any {spec.type} value "
            f"(at least {shortest} characters); raise it or change the field type"
        )
    label = spec.name if len(spec.name) <= _LONGEST_LABEL else "value"  # keeps `"name": "value",` on a line
    if spec.type == "text":
        first, second = f"First text about the {label}.", f"Second text about the {label}."
    else:
        first, second = f"first {label}", f"second {label}"
    if max_length is not None:
        first, second = first[:max_length], second[:max_length]
    return _fit_length(spec, first), _fit_length(spec, second)


def distinct_values(entity: EntityNames, field: FieldNames, references: list[str]) -> list[Value]:
    """Up to SERIES distinct valid values of a unique field, for tests that create several items;
    `references` are the ids a reference field may take (the seeded items of its target)."""
    spec = field.spec
    first = valid_values(entity, field)[0]
    kind = spec.type
    if kind == "reference":
        return list(references[:SERIES])
    if kind == "enum":
        return list((spec.values or [])[:SERIES])
    if kind in ("integer", "number", "decimal"):
        return _numbers(spec, first, SERIES)
    if kind == "date":
        return [(date.fromisoformat(str(first)) + timedelta(days=i)).isoformat() for i in range(SERIES)]
    if kind == "datetime":
        start = datetime.fromisoformat(str(first).replace("Z", "+00:00"))
        return [(start + timedelta(hours=i)).isoformat().replace("+00:00", "Z") for i in range(SERIES)]
    if kind == "uuid":
        return [str(uuid.uuid5(_SAMPLE_IDS, f"{entity.name}.{spec.name}-{i}")) for i in range(SERIES)]
    limit = spec.max_length if applies_max_length(field) else None
    values: list[Value] = []
    for i in range(SERIES):
        if kind == "email":
            value = f"{i}{first}"
            value = value if limit is None or len(value) <= limit else f"{i}@e.i"
        elif kind == "url":
            value = f"{first}/{i}"
            value = value if limit is None or len(value) <= limit else f"http://{i}"
        else:
            value = f"{i}{first}"[:limit] if limit is not None else f"{first} {i}"
        values.append(_fit_length(spec, value))
    return values


_PYTHON_TYPES: dict[str, Any] = {
    "integer": int,
    "number": float,
    "decimal": Decimal,
    "boolean": bool,
    "datetime": datetime,
    "date": date,
    "uuid": uuid.UUID,
}


def default_json(spec: FieldSpec) -> Value:
    """The spec's default as the API returns it (e.g. a decimal as a string, a number as a float)."""
    adapter: TypeAdapter[Any] = TypeAdapter(_PYTHON_TYPES.get(spec.type, str))
    value = str(spec.default) if spec.type == "decimal" else spec.default
    dumped: Value = adapter.dump_python(adapter.validate_python(value), mode="json")
    return dumped


@dataclass(frozen=True)
class InvalidValue:
    field: str  # the JSON name
    source: str  # a Python expression
    reason: str  # short, used as a pytest id


def invalid_values(entity: EntityNames, field: FieldNames) -> list[InvalidValue]:
    """Values the models must refuse for this field, as Python source."""
    spec = field.spec
    by_type: dict[str, list[tuple[str, str]]] = {
        "string": [("123", "number")],
        "text": [("123", "number"), ('["a"]', "list")],
        "integer": [('"42"', "string"), ("4.5", "fraction"), ("True", "boolean")],
        "number": [('"19.5"', "string"), ("True", "boolean")],
        "boolean": [('"true"', "string"), ("1", "number")],
        "datetime": [('"not a datetime"', "text"), ('"2024-13-01T00:00:00Z"', "bad-month")],
        "date": [('"soon"', "text"), ('"2024-02-30"', "bad-day")],
        "email": [('"not-an-email"', "no-at"), ('"a@b"', "no-domain"), ("123", "number")],
        "url": [('"example.com"', "no-scheme"), ('"ftp://example.com"', "ftp"), ("123", "number")],
        "uuid": [('"not-a-uuid"', "text"), ("12", "number")],
    }
    by_type["decimal"] = [('"abc"', "text"), ("True", "boolean"), ('"NaN"', "nan"), ('"1e200"', "out-of-range")]
    by_type["reference"] = [('"not-an-id"', "text"), ("12", "number")]
    by_type["enum"] = [('"not one of the values"', "unknown"), ("1", "number")]
    by_type["list"] = [('"not a list"', "text"), ("{}", "object")]
    cases = list(by_type[spec.type])
    cases += _bound_cases(entity, field)
    if spec.max_length is not None and applies_max_length(field):
        n = spec.max_length
        too_long = {
            "string": f'"x" * {n + 1}',
            "text": f'"x" * {n + 1}',
            "email": f'"x" * {n} + "@example.com"',
            "url": f'"https://example.com/" + "x" * {n}',
        }
        cases.append((too_long[spec.type], "too-long"))
    if spec.required:
        cases.append(("None", "null"))
    return [InvalidValue(field=spec.name, source=source, reason=reason) for source, reason in cases]


def _bound_cases(entity: EntityNames, field: FieldNames) -> list[tuple[str, str]]:
    """Values just outside the field's min_length, minimum, maximum, min_items and max_items."""
    spec = field.spec
    cases: list[tuple[str, str]] = []
    if spec.min_length and spec.type in ("string", "text"):
        cases.append((f'"x" * {spec.min_length - 1}', "too-short"))
    for bound, step, reason in ((spec.minimum, -1, "below-minimum"), (spec.maximum, 1, "above-maximum")):
        if bound is None:
            continue
        outside = Decimal(str(bound)) + step
        if spec.type == "integer":
            cases.append((repr(int(outside)), reason))
        elif spec.type == "number":
            cases.append((repr(float(outside)), reason))
        else:
            cases.append((json.dumps(str(outside)), reason))
    if spec.type == "list":
        first = literal(valid_values_of_items(entity, field)[0])
        if spec.min_items:
            cases.append((f"[{first}] * {spec.min_items - 1}", "too-few"))
        if spec.max_items is not None:
            cases.append((f"[{first}] * {spec.max_items + 1}", "too-many"))
    return cases


def valid_values_of_items(entity: EntityNames, field: FieldNames) -> tuple[Value, Value]:
    """Two valid items of a list field (its items have no bounds of their own)."""
    return _scalar_values(entity, field.spec, field.spec.items or "string")


class ProjectSamples:
    """Sample values that depend on the other entities: the ids a reference takes (items the generated tests
    store first, see `parents`), and how many distinct items an entity's unique fields allow."""

    def __init__(self, entities: list[EntityNames]) -> None:
        self.entities = {entity.name: entity for entity in entities}
        self._capacity: dict[str, int] = {}

    def capacity(self, name: str) -> int:
        """How many items of `name` the tests can create with distinct unique values (1 to SERIES)."""
        if name not in self._capacity:
            entity = self.entities[name]
            count = SERIES
            for field in entity.fields:
                if field.spec.unique and not (field.spec.type == "reference" and not field.spec.required):
                    count = min(count, len(self._distinct(entity, field)))
            self._capacity[name] = max(count, 1)
        return self._capacity[name]

    def _reference_ids(self, field: FieldNames) -> list[str]:
        target = field.spec.references or ""
        return [sample_id(target, i) for i in range(self.capacity(target))]

    def _distinct(self, entity: EntityNames, field: FieldNames) -> list[Value]:
        references = self._reference_ids(field) if field.spec.type == "reference" else []
        return distinct_values(entity, field, references)

    def values(self, entity: EntityNames, field: FieldNames) -> tuple[Value, Value]:
        """valid_values, with the seeded items' ids for a required reference (an optional one stays null)."""
        if field.spec.type != "reference":
            return valid_values(entity, field)
        if not field.spec.required:
            return None, None
        ids = self._reference_ids(field)
        return ids[0], ids[min(1, len(ids) - 1)]

    def variants(self, entity: EntityNames) -> list[dict[str, Value]]:
        """For the i-th of several items: the values of its unique fields (the rest are VALID's)."""
        unique = [f for f in entity.fields if f.spec.unique and self.values(entity, f)[0] is not None]
        columns = {f.name: self._distinct(entity, f) for f in unique}
        return [{name: values[i] for name, values in columns.items()} for i in range(self.capacity(entity.name))]

    def record(self, entity: EntityNames, index: int) -> dict[str, Value]:
        """The index-th seeded item of `entity`, as stored (its required references point at seeded items)."""
        stamp = f"2024-01-01T00:00:{index:02d}Z"
        fields = {f.name: self.values(entity, f)[0] for f in entity.fields}
        return {
            "id": sample_id(entity.name, index),
            "created_at": stamp,
            "updated_at": stamp,
            **fields,
            **self.variants(entity)[index],
        }

    def closure(self, name: str) -> list[str]:
        """The entities `name`'s required references reach, transitively (never itself: such a cycle is
        refused by the spec model), each before the entities that refer to it."""
        found: list[str] = []

        def visit(current: str) -> None:
            for field in self.entities[current].fields:
                target = field.spec.references
                if field.spec.type == "reference" and field.spec.required and target and target not in found:
                    visit(target)
                    found.append(target)

        visit(name)
        return found

    def parents(self, name: str) -> list[tuple[str, dict[str, Value]]]:
        """The items stored before each of `name`'s route tests: every item of every entity in its closure."""
        return [
            (target, self.record(self.entities[target], i))
            for target in self.closure(name)
            for i in range(self.capacity(target))
        ]
