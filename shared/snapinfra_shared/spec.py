"""The project specification contract: what a code generation builds.

A spec is either given by the client (`spec` in `POST /api/code-gen`) or inferred by the api from
the prompt; either way the codegen service receives a complete, validated spec in the event.

Spec v2 adds, without changing what a v1 spec means: references between entities (`type: "reference"`,
`references: "Author"`, `on_delete: "restrict" | "cascade"`; the one-to-many side is derived, see
`ProjectSpec.referrers`; many-to-many is a link entity with two references), enums (`type: "enum"`,
`values`), `unique`, bounds (`min_length`/`max_length` for string-like types, `minimum`/`maximum` for
numbers, `min_items`/`max_items` for `type: "list"` of scalar `items`), `default`, and `decimal` for money
(never a float). Every rule is checked here, so a spec the api accepts is one the generator can build.
"""

from __future__ import annotations

import keyword
import re
from decimal import Decimal, InvalidOperation
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from snapinfra_shared.naming import clashes

ScalarType = Literal[
    "string", "text", "integer", "number", "decimal", "boolean", "datetime", "date", "email", "url", "uuid"
]
FieldType = Literal[
    "string",
    "text",
    "integer",
    "number",
    "decimal",
    "boolean",
    "datetime",
    "date",
    "email",
    "url",
    "uuid",
    "enum",
    "reference",
    "list",
]
OnDelete = Literal["restrict", "cascade"]
ProjectType = Literal["api", "model", "infra", "full-stack"]

_ENTITY_NAME = re.compile(r"^[A-Z][A-Za-z0-9]{0,63}$")
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
RESERVED_FIELD_NAMES = frozenset({"id", "created_at", "updated_at"})
# The shortest valid value of a type a max_length constrains (f@e.i, http://a): a max_length below it leaves
# no value the generated project could accept or test with.
MIN_MAX_LENGTH: dict[str, int] = {"email": 5, "url": 8}
STRING_LIKE = frozenset({"string", "text", "email", "url"})
NUMERIC = frozenset({"integer", "number", "decimal"})
_ENUM_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")
# A default is a JSON scalar checked against the field's type; these types take none (an id is never a
# constant, and a list default would be shared).
_NO_DEFAULT = frozenset({"reference", "list", "uuid"})
Scalar = str | bool | int | float


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
    unique: bool = Field(default=False, description="no two items may share a value (not for list or boolean)")
    min_length: int | None = Field(default=None, ge=0, le=1_000_000, description="for string-like types")
    max_length: int | None = Field(default=None, ge=1, le=1_000_000, description="for string-like types")
    minimum: int | float | None = Field(default=None, description="inclusive lower bound of a number")
    maximum: int | float | None = Field(default=None, description="inclusive upper bound of a number")
    values: list[str] | None = Field(default=None, description="the allowed values of an enum", max_length=100)
    references: str | None = Field(default=None, description="the entity a reference field points at")
    on_delete: OnDelete | None = Field(
        default=None, description="what deleting the referenced item does: restrict (default) or cascade"
    )
    items: ScalarType | None = Field(default=None, description="the element type of a list")
    min_items: int | None = Field(default=None, ge=0, le=1000, description="for lists")
    max_items: int | None = Field(default=None, ge=1, le=1000, description="for lists")
    default: Scalar | None = Field(default=None, description="the value a create without this field stores")

    @field_validator("name")
    @classmethod
    def _snake_case(cls, value: str) -> str:
        if not _FIELD_NAME.match(value) or keyword.iskeyword(value):
            raise ValueError("must be snake_case (a-z, 0-9, _), start with a letter, and not be a Python keyword")
        if value in RESERVED_FIELD_NAMES:
            raise ValueError(f"'{value}' is generated for every entity and cannot be declared")
        return value

    @property
    def on_delete_rule(self) -> OnDelete:
        """What deleting the referenced item does; restrict unless the spec says cascade."""
        return self.on_delete or "restrict"

    @model_validator(mode="after")
    def _consistent(self) -> FieldSpec:
        errors: list[tuple[tuple[str | int, ...], str]] = [
            ((_wire_name(self, key),), message) for key, message in self._problems()
        ]
        if errors:
            _refuse(self, errors)
        return self

    def _problems(self) -> list[tuple[str, str]]:
        """Each key set where the type gives it no meaning, each bound that leaves no value, as (key, why)."""
        problems: list[tuple[str, str]] = []
        kind = self.type
        shortest = MIN_MAX_LENGTH.get(kind)
        if shortest is not None and self.max_length is not None and self.max_length < shortest:
            problems.append(
                ("max_length", f"{self.max_length} is too short for any {kind} value (at least {shortest} characters)")
            )
        if self.min_length is not None:
            if kind not in STRING_LIKE:
                problems.append(("min_length", f"only string-like fields have a length, not {kind}"))
            elif self.max_length is not None and self.min_length > self.max_length:
                problems.append(("min_length", f"{self.min_length} is above max_length {self.max_length}"))
        for key in ("minimum", "maximum"):
            bound = getattr(self, key)
            if bound is None:
                continue
            if kind not in NUMERIC:
                problems.append((key, f"only integer, number and decimal fields have a range, not {kind}"))
            elif kind == "integer" and not isinstance(bound, int):
                problems.append((key, "an integer field's bound must be a whole number"))
        if kind in NUMERIC and self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            problems.append(("minimum", f"{self.minimum} is above maximum {self.maximum}"))
        problems.extend(self._kind_problems())
        if self.unique and kind in ("list", "boolean", "text"):
            problems.append(("unique", f"a {kind} field cannot be unique"))
        if self.default is not None:
            why = self._default_problem()
            if why:
                problems.append(("default", why))
        return problems

    def _kind_problems(self) -> list[tuple[str, str]]:
        """The keys that belong to one type (values to enum, references to reference, items to list)."""
        problems: list[tuple[str, str]] = []
        kind = self.type
        if kind == "enum":
            if not self.values:
                problems.append(("values", "an enum needs at least one value"))
            else:
                bad = [value for value in self.values if not _ENUM_VALUE.match(value)]
                if bad:
                    problems.append(("values", f"{bad[0]!r} is not a valid enum value (letters, digits, space _ . -)"))
                elif len(set(self.values)) != len(self.values):
                    problems.append(("values", "each enum value may appear only once"))
        elif self.values is not None:
            problems.append(("values", f"only enum fields have values, not {kind}"))
        if kind == "reference":
            if self.references is None:
                problems.append(("references", "a reference field names the entity it points at"))
        else:
            for key in ("references", "on_delete"):
                if getattr(self, key) is not None:
                    problems.append((key, f"only reference fields have {key}, not {kind}"))
        if kind == "list":
            if self.items is None:
                problems.append(("items", "a list field names the type of its items"))
            if self.min_items is not None and self.max_items is not None and self.min_items > self.max_items:
                problems.append(("min_items", f"{self.min_items} is above max_items {self.max_items}"))
        else:
            for key in ("items", "min_items", "max_items"):
                if getattr(self, key) is not None:
                    problems.append((key, f"only list fields have {key}, not {kind}"))
        return problems

    def _default_problem(self) -> str | None:
        """Why the default is not a value of this field, or None when it is."""
        value, kind = self.default, self.type
        if kind in _NO_DEFAULT:
            return f"a {kind} field takes no default"
        if kind == "boolean":
            return None if isinstance(value, bool) else "must be true or false"
        if isinstance(value, bool):
            return f"must be of type {kind}, not a boolean"
        if kind in NUMERIC:
            return self._numeric_default_problem(value)
        if not isinstance(value, str):
            return f"must be a string for a {kind} field"
        if kind == "enum":
            return None if self.values and value in self.values else "must be one of the enum's values"
        if kind in STRING_LIKE:
            if self.max_length is not None and len(value) > self.max_length:
                return f"is longer than max_length {self.max_length}"
            if self.min_length is not None and len(value) < self.min_length:
                return f"is shorter than min_length {self.min_length}"
        return None

    def _numeric_default_problem(self, value: Scalar | None) -> str | None:
        if self.type == "integer" and not isinstance(value, int):
            return "must be a whole number"
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return f"must be a number for a {self.type} field"
        if not number.is_finite():
            return "must be a finite number"
        if self.minimum is not None and number < Decimal(str(self.minimum)):
            return f"is below minimum {self.minimum}"
        if self.maximum is not None and number > Decimal(str(self.maximum)):
            return f"is above maximum {self.maximum}"
        return None


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

    @model_validator(mode="after")
    def _references_resolve(self) -> ProjectSpec:
        """Every reference names an entity of this spec, and no chain of required references loops back on
        itself (no item of such a cycle could ever be created first)."""
        names = {entity.name for entity in self.entities}
        errors: list[tuple[tuple[str | int, ...], str]] = []
        for e, entity in enumerate(self.entities):
            for f, field in enumerate(entity.fields):
                if field.type == "reference" and field.references not in names:
                    known = ", ".join(sorted(names))
                    errors.append(
                        (("entities", e, "fields", f, "references"), f"{field.references!r} is not an entity ({known})")
                    )
        if not errors:
            errors = self._required_cycle()
        if errors:
            _refuse(self, errors)
        return self

    def _required_cycle(self) -> list[tuple[tuple[str | int, ...], str]]:
        """The first field of a cycle of required references, as an error; none when there is no cycle."""
        edges: dict[str, list[tuple[int, int, str]]] = {entity.name: [] for entity in self.entities}
        for e, entity in enumerate(self.entities):
            for f, field in enumerate(entity.fields):
                if field.type == "reference" and field.required and field.references is not None:
                    edges[entity.name].append((e, f, field.references))
        state: dict[str, int] = {}  # 1: on the current path, 2: done

        def visit(name: str, path: list[str]) -> list[tuple[tuple[str | int, ...], str]]:
            state[name] = 1
            for e, f, target in edges[name]:
                if state.get(target) == 1:
                    loop = [*path[path.index(target) :], name, target] if target in path else [name, target]
                    message = "required references form a cycle (" + " -> ".join(loop) + "); make one optional"
                    return [(("entities", e, "fields", f, "references"), message)]
                if target not in state:
                    found = visit(target, [*path, name])
                    if found:
                        return found
            state[name] = 2
            return []

        for entity in self.entities:
            if entity.name not in state:
                found = visit(entity.name, [])
                if found:
                    return found
        return []

    def entity(self, name: str) -> EntitySpec:
        """The entity of this name (KeyError if there is none)."""
        for entity in self.entities:
            if entity.name == name:
                return entity
        raise KeyError(name)

    def referrers(self, name: str) -> list[tuple[EntitySpec, FieldSpec]]:
        """The one-to-many side of a reference: each (entity, field) whose field references `name`."""
        return [
            (entity, field)
            for entity in self.entities
            for field in entity.fields
            if field.type == "reference" and field.references == name
        ]
