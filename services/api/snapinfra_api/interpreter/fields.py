"""Field typing: a field's type from its name (price -> number, is_* -> boolean, *_at -> datetime, ...)."""

from __future__ import annotations

import keyword
import re

from snapinfra_api.interpreter.vocabulary import FIELD_STARTS, LAST_WORD, TYPE_WORDS, VOCAB
from snapinfra_shared.spec import RESERVED_FIELD_NAMES, FieldSpec, FieldType

ENTITY_NAME = re.compile(r"[A-Z][A-Za-z0-9]{0,63}")
FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_ENTITIES = 20  # as ProjectSpec allows
MAX_FIELDS = 50  # as EntitySpec allows


def field_type(name: str) -> FieldType:
    """A field's type from naming conventions: price -> number, is_* -> boolean, *_at -> datetime, ..."""
    words = name.split("_")
    last = words[-1]
    if last in LAST_WORD["uuid"]:
        return "uuid"
    if (words[0] in FIELD_STARTS and len(words) > 1) or last in LAST_WORD["boolean"]:
        return "boolean"
    if (last == "at" and len(words) > 1) or last in LAST_WORD["datetime"]:
        return "datetime"
    if last in LAST_WORD["date"] or name == "date_of_birth":
        return "date"
    if "email" in words:
        return "email"
    if last in LAST_WORD["url"]:
        return "url"
    if name.startswith(("num_", "number_of_")) or last in LAST_WORD["integer"]:
        return "integer"
    if last in LAST_WORD["number"]:
        return "number"
    return "text" if last in LAST_WORD["text"] else "string"


_MAX_LENGTHS: dict[str, int] = {"string": 255, "email": 254, "url": 2048}


def make_field(name: str, type_: FieldType | None = None, required: bool = True) -> FieldSpec:
    type_ = type_ or field_type(name)
    return FieldSpec(name=name, type=type_, required=required, max_length=_MAX_LENGTHS.get(type_))


def vocab_fields(key: str) -> list[FieldSpec]:
    fields = []
    for item in VOCAB[key].fields.split():
        optional = item.endswith("?")
        name, _, type_ = item.rstrip("?").partition(":")
        fields.append(make_field(name, TYPE_WORDS.get(type_), required=not optional))
    return fields


def field_name(words: list[str]) -> str | None:
    """A valid, declarable snake_case name for the words of a field, or None."""
    name = "_".join(words)
    if not FIELD_NAME.fullmatch(name) or name in RESERVED_FIELD_NAMES:
        return None
    if keyword.iskeyword(name):
        name += "_"
    return name if len(name) <= 64 else None
