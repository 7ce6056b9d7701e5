"""Field typing: a field's type, bounds, uniqueness and enum values from its name and its entity's noun.

price -> decimal, minimum 0; quantity -> integer, minimum 0; is_* -> boolean; *_at -> datetime; due_date ->
date; email -> email (unique on a person); status -> enum; title -> string of 1 to 200 characters. The word
lists are in fields.toml.
"""

from __future__ import annotations

import keyword
import re

from snapinfra_api.interpreter.vocabulary import (
    BOUNDS,
    ENUMS,
    FIELD_STARTS,
    LAST_WORD,
    MAX_LENGTHS,
    NAME_LIKE,
    NAME_MAX,
    PEOPLE,
    TYPE_WORDS,
    UNIQUE_FIELDS,
    UNIQUE_NOUN_FIELDS,
    VOCAB,
)
from snapinfra_shared.spec import RESERVED_FIELD_NAMES, FieldSpec, FieldType

ENTITY_NAME = re.compile(r"[A-Z][A-Za-z0-9]{0,63}")
FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_ENTITIES = 20  # as ProjectSpec allows
MAX_FIELDS = 50  # as EntitySpec allows


def field_type(name: str) -> FieldType:
    """A field's type from naming conventions: price -> decimal, is_* -> boolean, *_at -> datetime, ..."""
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
    if last in LAST_WORD["decimal"]:
        return "decimal"
    if last in LAST_WORD["number"]:
        return "number"
    return "text" if last in LAST_WORD["text"] else "string"


def enum_values(name: str, noun: str | None) -> list[str] | None:
    """The values of an enum field of this name on this noun ("order.status"), or None if it is no enum."""
    if noun is not None and f"{noun}.{name}" in ENUMS:
        return ENUMS[f"{noun}.{name}"]
    return ENUMS.get(name)


def make_field(name: str, type_: FieldType | None = None, required: bool = True, noun: str | None = None) -> FieldSpec:
    """A field with the type its name suggests (unless given) and the bounds, uniqueness and values of that
    name; `noun` is the vocabulary noun of its entity, for per-noun enums and unique emails."""
    values = enum_values(name, noun) if type_ is None else None
    if values is not None:
        return FieldSpec(name=name, type="enum", values=values, default=values[0], required=required)
    kind = type_ or field_type(name)
    last = name.split("_")[-1]
    unique = kind not in ("text", "boolean") and (
        name in UNIQUE_FIELDS or f"{noun}.{name}" in UNIQUE_NOUN_FIELDS or (kind == "email" and noun in PEOPLE)
    )
    if kind in ("string", "email", "url"):
        name_like = kind == "string" and (last in NAME_LIKE or name in NAME_LIKE)
        return FieldSpec(
            name=name,
            type=kind,
            required=required,
            unique=unique,
            min_length=1 if name_like or (required and kind == "string") else None,
            max_length=NAME_MAX if name_like else MAX_LENGTHS[kind],
        )
    minimum, maximum = BOUNDS.get(last, (None, None)) if kind in ("integer", "number", "decimal") else (None, None)
    return FieldSpec(name=name, type=kind, required=required, unique=unique, minimum=minimum, maximum=maximum)


def vocab_fields(key: str) -> list[FieldSpec]:
    """The usual fields of a known noun ("name email? role": "?" optional, "name:type" typed)."""
    fields = []
    for item in VOCAB[key].fields.split():
        optional = item.endswith("?")
        name, _, type_ = item.rstrip("?").partition(":")
        fields.append(make_field(name, TYPE_WORDS.get(type_), required=not optional, noun=key))
    return fields


def field_name(words: list[str]) -> str | None:
    """A valid, declarable snake_case name for the words of a field, or None."""
    name = "_".join(words)
    if not FIELD_NAME.fullmatch(name) or name in RESERVED_FIELD_NAMES:
        return None
    if keyword.iskeyword(name):
        name += "_"
    return name if len(name) <= 64 else None
