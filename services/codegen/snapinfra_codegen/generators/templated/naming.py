"""Names derived from a spec: Python classes and modules, URL paths, environment variables, CloudFormation ids.

Everything generated is named here, once, so that the templates agree with each other and so that
clashes (two entities that would share a module or a route) are refused with a clear message.
"""

from __future__ import annotations

import builtins
import keyword
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from snapinfra_codegen.generators.base import GenerationError
from snapinfra_shared.spec import EntitySpec, FieldSpec, ProjectSpec

PROJECT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,99}$")

# Capitalised names bound at module level in the generated modules that also bind entity classes (the
# models, app/models/__init__.py and the routes). An entity whose class would shadow one gets a suffix.
_TEMPLATE_NAMES = frozenset(
    {
        "Annotated",
        "Any",
        "ApiError",
        "BaseModel",
        "Blueprint",
        "ConfigDict",
        "Date",
        "DateTime",
        "EMAIL_FORMAT",
        "ENTITY",
        "Email",
        "Field",
        "HTTPStatus",
        "NotNull",
        "StrictBool",
        "StrictFloat",
        "StrictInt",
        "StrictStr",
        "URL_FORMAT",
        "UUID",
        "Url",
    }
)
_RESERVED_CLASS_NAMES = _TEMPLATE_NAMES | frozenset(dir(builtins)) | frozenset(keyword.kwlist)

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


def python_package_name(project_name: str, suffix: str) -> str:
    """A package name for a project slug that cannot shadow the standard library or be a keyword."""
    base = project_name.replace("-", "_")
    return base if base.endswith(suffix) else base + suffix


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


def _field_names(spec: FieldSpec) -> FieldNames:
    if spec.name in _BASEMODEL_ATTRIBUTES or spec.name.startswith("model_"):
        return FieldNames(spec=spec, attribute=spec.name + "_", alias=spec.name)
    return FieldNames(spec=spec, attribute=spec.name, alias=None)


def _entity_names(spec: EntitySpec) -> EntityNames:
    fields = tuple(_field_names(f) for f in spec.fields)
    attributes = [f.attribute for f in fields]
    clashing = sorted({a for a in attributes if attributes.count(a) > 1})
    if clashing:
        raise GenerationError(
            f"fields of {spec.name} would share the Python attribute {', '.join(clashing)}; rename one of them"
        )
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
        fields=fields,
    )


def entity_names(spec: ProjectSpec) -> list[EntityNames]:
    """Names for every entity, in spec order; raises GenerationError when two entities would clash."""
    names = [_entity_names(entity) for entity in spec.entities]
    checks: dict[str, Callable[[EntityNames], str]] = {
        "Python module": lambda n: n.module,
        "URL path": lambda n: n.path,
        "table environment variable": lambda n: n.env_var,
    }
    for what, key in checks.items():
        by_key: dict[str, list[str]] = defaultdict(list)
        for n in names:
            by_key[key(n)].append(n.name)
        for value, owners in by_key.items():
            if len(owners) > 1:
                raise GenerationError(
                    f"entities {', '.join(owners)} would share the {what} '{value}'; rename one of them"
                )
    classes: dict[str, str] = {}
    for n in names:
        for cls in (n.output_class, n.create_class, n.update_class):
            if cls in classes and classes[cls] != n.name:
                raise GenerationError(
                    f"entities {classes[cls]} and {n.name} would both define the class '{cls}'; rename one of them"
                )
            classes[cls] = n.name
    return names


def check_project_name(project_name: str) -> None:
    if not PROJECT_NAME.match(project_name):
        raise GenerationError(
            f"project name {project_name!r} is not a slug: lower-case letters, digits and '-', starting with a letter"
        )
