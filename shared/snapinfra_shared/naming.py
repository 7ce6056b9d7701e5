"""Names a spec's entities and fields take in generated code: Python classes and modules, URL paths,
environment variables, CloudFormation ids, and the clashes between them.

The spec model refuses a spec with a clash (so the api answers 422 naming the field) and the codegen
service's templated generator derives every name from here: the rules that refuse a spec are the rules
that name its code, so a spec the api accepts is one the generator can build.
"""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snapinfra_shared.spec import EntitySpec, FieldSpec

# Capitalised names bound at module level in the generated modules that also bind entity classes (the
# models, app/models/__init__.py and the routes). An entity whose class would shadow one gets a suffix.
TEMPLATE_NAMES = frozenset(
    {
        "Annotated",
        "Any",
        "ApiError",
        "BaseModel",
        "Blueprint",
        "ConfigDict",
        "Created",
        "DECIMALS",
        "Date",
        "DateTime",
        "Decimal",
        "DecimalNumber",
        "EMAIL_FORMAT",
        "ENTITY",
        "Email",
        "Field",
        "HTTPStatus",
        "Json",
        "Literal",
        "NotNull",
        "RESOURCES",
        "SHAPES",
        "StrictBool",
        "StrictFloat",
        "StrictInt",
        "StrictStr",
        "TITLE",
        "URL_FORMAT",
        "UUID",
        "Url",
    }
)
_RESERVED_CLASS_NAMES = TEMPLATE_NAMES | frozenset(dir(builtins)) | frozenset(keyword.kwlist)

# Field names that would shadow pydantic.BaseModel attributes; such fields get an attribute name with a
# trailing underscore and keep their name on the wire through an alias.
_BASEMODEL_ATTRIBUTES = frozenset(
    {
        "construct",
        "copy",
        "dict",
        "from_orm",
        "json",
        "parse_file",
        "parse_obj",
        "parse_raw",
        "schema",
        "schema_json",
        "update_forward_refs",
        "validate",
    }
)

_IRREGULAR_PLURALS = {"child": "children", "man": "men", "person": "people", "woman": "women"}


def snake_case(name: str) -> str:
    """PascalCase to snake_case: OrderItem -> order_item, HTTPRequest -> http_request."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def pluralize(word: str) -> str:
    """English plural of a lower-case word, good enough for collection names."""
    if word in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[word]
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if len(word) > 1 and word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


@dataclass(frozen=True)
class FieldNames:
    spec: FieldSpec
    attribute: str  # the Python attribute on the models
    alias: str | None  # the JSON name, when it differs from the attribute

    @property
    def name(self) -> str:
        return str(self.spec.name)


@dataclass(frozen=True)
class EntityNames:
    spec: EntitySpec
    output_class: str  # User
    create_class: str  # UserCreate
    update_class: str  # UserUpdate
    snake: str  # order_item
    module: str  # order_item (a trailing underscore when the snake name is a keyword)
    plural_snake: str  # order_items
    path: str  # /order-items
    env_var: str  # ORDER_ITEM_TABLE_NAME
    logical_id: str  # OrderItemTable
    table_suffix: str  # order-items
    fields: tuple[FieldNames, ...]

    @property
    def name(self) -> str:
        return str(self.spec.name)

    @property
    def required_fields(self) -> tuple[FieldNames, ...]:
        return tuple(f for f in self.fields if f.spec.required)

    @property
    def optional_fields(self) -> tuple[FieldNames, ...]:
        return tuple(f for f in self.fields if not f.spec.required)


def field_names(spec: FieldSpec) -> FieldNames:
    if spec.name in _BASEMODEL_ATTRIBUTES or spec.name.startswith("model_"):
        return FieldNames(spec=spec, attribute=spec.name + "_", alias=spec.name)
    return FieldNames(spec=spec, attribute=spec.name, alias=None)


def names_of(spec: EntitySpec) -> EntityNames:
    """The names of one entity (see `clashes` for whether they are usable beside the others)."""
    snake = snake_case(spec.name)
    words = snake.split("_")
    plural_snake = "_".join([*words[:-1], pluralize(words[-1])])
    base = spec.name + "Model" if spec.name in _RESERVED_CLASS_NAMES else spec.name
    return EntityNames(
        spec=spec,
        output_class=base,
        create_class=base + "Create",
        update_class=base + "Update",
        snake=snake,
        module=snake + "_" if keyword.iskeyword(snake) else snake,
        plural_snake=plural_snake,
        path="/" + plural_snake.replace("_", "-"),
        env_var=snake.upper() + "_TABLE_NAME",
        logical_id=spec.name + "Table",
        table_suffix=plural_snake.replace("_", "-"),
        fields=tuple(field_names(f) for f in spec.fields),
    )


@dataclass(frozen=True)
class Clash:
    """Two names a spec declares that generated code cannot tell apart: where the second one is, and why."""

    location: tuple[str | int, ...]  # e.g. ("entities", 3, "name") or ("entities", 0, "fields", 2, "name")
    message: str


def clashes(entities: Sequence[EntitySpec]) -> list[Clash]:
    """Every clash between the names of a spec's entities and fields, in spec order (empty: none)."""
    found: list[Clash] = []
    names = [names_of(entity) for entity in entities]
    for i, entity in enumerate(names):
        attributes: dict[str, str] = {}
        for j, f in enumerate(entity.fields):
            if attributes.get(f.attribute) == f.name:
                found.append(Clash(("entities", i, "fields", j, "name"), f"duplicate field name in {entity.name}"))
            elif f.attribute in attributes:
                found.append(
                    Clash(
                        ("entities", i, "fields", j, "name"),
                        f"fields {attributes[f.attribute]} and {f.name} of {entity.name} would share the Python "
                        f"attribute '{f.attribute}'; rename one of them",
                    )
                )
            attributes.setdefault(f.attribute, f.name)
    checks: dict[str, Callable[[EntityNames], str]] = {
        "Python module": lambda n: n.module,
        "URL path": lambda n: n.path,
        "table environment variable": lambda n: n.env_var,
    }
    for i, entity in enumerate(names):
        earlier = names[:i]
        if any(n.name == entity.name for n in earlier):
            found.append(Clash(("entities", i, "name"), f"duplicate entity name {entity.name}"))
            continue
        for what, key in checks.items():
            owners = [n.name for n in earlier if key(n) == key(entity)]
            if owners:
                found.append(
                    Clash(
                        ("entities", i, "name"),
                        f"entities {', '.join([*owners, entity.name])} would share the {what} '{key(entity)}'; "
                        "rename one of them",
                    )
                )
                break
        else:
            classes = {c: n.name for n in earlier for c in (n.output_class, n.create_class, n.update_class)}
            for cls in (entity.output_class, entity.create_class, entity.update_class):
                if cls in classes:
                    found.append(
                        Clash(
                            ("entities", i, "name"),
                            f"entities {classes[cls]} and {entity.name} would both define the class '{cls}'; "
                            "rename one of them",
                        )
                    )
                    break
    return found
