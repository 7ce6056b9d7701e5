"""Example values for the generated tests and README: two valid values per field, and invalid ones.

Valid values are given in the form the API returns them (e.g. datetimes in UTC with a "Z"), so a test
can compare what it sent with what it got back. Invalid values are Python source expressions, so that
"one character too long" stays short for a field whose max_length is a million.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from snapinfra_codegen.generators.base import GenerationError
from snapinfra_codegen.generators.templated.naming import EntityNames, FieldNames

Value = str | int | float | bool | None

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
    return repr(value)


def valid_values(entity: EntityNames, field: FieldNames) -> tuple[Value, Value]:
    """Two different valid values for the field (the second is used for updates)."""
    spec = field.spec
    max_length = spec.max_length if applies_max_length(field) else None
    if spec.type in _FIXED:
        return _FIXED[spec.type]
    if spec.type in _CANDIDATES:
        for first, second in _CANDIDATES[spec.type]:
            if max_length is None or len(second) <= max_length:
                return first, second
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
    return first, second


@dataclass(frozen=True)
class InvalidValue:
    field: str  # the JSON name
    source: str  # a Python expression
    reason: str  # short, used as a pytest id


def invalid_values(field: FieldNames) -> list[InvalidValue]:
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
    cases = list(by_type[spec.type])
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
