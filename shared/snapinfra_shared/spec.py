"""The project specification contract: what a code generation builds.

A spec is either given by the client (`spec` in `POST /api/code-gen`) or inferred by the api from
the prompt; either way the codegen service receives a complete, validated spec in the event.
"""

from __future__ import annotations

import keyword
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FieldType = Literal["string", "text", "integer", "number", "boolean", "datetime", "date", "email", "url", "uuid"]
ProjectType = Literal["api", "model", "infra", "full-stack"]

_ENTITY_NAME = re.compile(r"^[A-Z][A-Za-z0-9]{0,63}$")
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
RESERVED_FIELD_NAMES = frozenset({"id", "created_at", "updated_at"})


class FieldSpec(BaseModel):
    """One typed field of an entity. `id`, `created_at` and `updated_at` are always generated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="snake_case field name")
    type: FieldType = "string"
    required: bool = True
    max_length: int | None = Field(default=None, ge=1, le=1_000_000, description="for string-like types")

    @field_validator("name")
    @classmethod
    def _snake_case(cls, value: str) -> str:
        if not _FIELD_NAME.match(value) or keyword.iskeyword(value):
            raise ValueError("must be snake_case (a-z, 0-9, _), start with a letter, and not be a Python keyword")
        if value in RESERVED_FIELD_NAMES:
            raise ValueError(f"'{value}' is generated for every entity and cannot be declared")
        return value


class EntitySpec(BaseModel):
    """One resource of the generated project (a table, a REST collection, a model class)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="PascalCase singular name, e.g. User")
    fields: list[FieldSpec] = Field(min_length=1, max_length=50)

    @field_validator("name")
    @classmethod
    def _pascal_case(cls, value: str) -> str:
        if not _ENTITY_NAME.match(value):
            raise ValueError("must be PascalCase: a capital letter then letters or digits, at most 64")
        return value

    @model_validator(mode="after")
    def _unique_fields(self) -> EntitySpec:
        names = [f.name for f in self.fields]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate field names in {self.name}: {', '.join(duplicates)}")
        return self


class ProjectSpec(BaseModel):
    """The entities a generated project is built from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entities: list[EntitySpec] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _unique_entities(self) -> ProjectSpec:
        names = [e.name for e in self.entities]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate entity names: {', '.join(duplicates)}")
        return self
