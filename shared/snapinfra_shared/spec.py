"""The project specification contract: what a code generation builds.

A spec is either given by the client (`spec` in `POST /api/code-gen`) or inferred by the api from
the prompt; either way the codegen service receives a complete, validated spec in the event.
"""

from __future__ import annotations

import keyword
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from snapinfra_shared.naming import clashes

FieldType = Literal["string", "text", "integer", "number", "boolean", "datetime", "date", "email", "url", "uuid"]
ProjectType = Literal["api", "model", "infra", "full-stack"]

_ENTITY_NAME = re.compile(r"^[A-Z][A-Za-z0-9]{0,63}$")
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
RESERVED_FIELD_NAMES = frozenset({"id", "created_at", "updated_at"})
# The shortest valid value of a type a max_length constrains (f@e.i, http://a): a max_length below it leaves
# no value the generated project could accept or test with.
MIN_MAX_LENGTH: dict[str, int] = {"email": 5, "url": 8}


def _refuse(model: BaseModel, errors: list[tuple[tuple[str | int, ...], str]]) -> None:
    """Raise the errors at their own locations (e.g. entities.3.name), so the api names the field."""
    raise ValidationError.from_exception_data(
        type(model).__name__,
        [
            InitErrorDetails(type=PydanticCustomError("spec_clash", message), loc=location, input=None)
            for location, message in errors
        ],
    )


def _wire_name(model: BaseModel, field: str) -> str:
    """A field's name as the caller spelled it (the api's camelCase subclasses alias it)."""
    alias = type(model).model_fields[field].validation_alias
    return alias if isinstance(alias, str) else field


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

    @model_validator(mode="after")
    def _max_length_leaves_a_value(self) -> FieldSpec:
        shortest = MIN_MAX_LENGTH.get(self.type)
        if shortest is not None and self.max_length is not None and self.max_length < shortest:
            message = f"{self.max_length} is too short for any {self.type} value (at least {shortest} characters)"
            _refuse(self, [((_wire_name(self, "max_length"),), message)])
        return self


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
    def _no_clashing_fields(self) -> EntitySpec:
        found = clashes([self])
        if found:
            _refuse(self, [(clash.location[2:], clash.message) for clash in found])
        return self


class ProjectSpec(BaseModel):
    """The entities a generated project is built from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entities: list[EntitySpec] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _no_clashes(self) -> ProjectSpec:
        """Two entities or fields whose generated names collide (a module, a URL path, a table variable, a
        class, a model attribute): refused here, where the api answers 422, not when the job runs."""
        found = clashes(self.entities)
        if found:
            _refuse(self, [(clash.location, clash.message) for clash in found])
        return self
