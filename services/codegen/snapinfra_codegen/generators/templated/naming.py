"""Names derived from a spec: Python classes and modules, URL paths, environment variables, CloudFormation ids.

The names of entities and fields, and their clashes, are snapinfra_shared.naming (the spec model refuses a
clashing spec with the same rules); the project's own names are here.
"""

from __future__ import annotations

import re

from snapinfra_codegen.generators.base import GenerationError
from snapinfra_shared.naming import EntityNames, FieldNames, clashes, names_of, pluralize, snake_case
from snapinfra_shared.spec import ProjectSpec

__all__ = [
    "MAX_INDEXED_FILTERS",
    "EntityNames",
    "FieldNames",
    "check_project_name",
    "entity_names",
    "filter_fields",
    "indexed_filters",
    "pluralize",
    "python_package_name",
    "snake_case",
]

PROJECT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,99}$")
# A DynamoDB table has at most 20 global secondary indexes: by_order, then one per filter field up to this
# many (the generated app/repository.py's MAX_INDEXED_FILTERS); a further filter reads by_order.
MAX_INDEXED_FILTERS = 19


def filter_fields(entity: EntityNames) -> list[FieldNames]:
    """The fields a listing filters on: every reference and enum field."""
    return [f for f in entity.fields if f.spec.type in ("reference", "enum")]


def indexed_filters(entity: EntityNames) -> list[FieldNames]:
    """The filter fields with their own `by_<field>` index in the entity's table."""
    return filter_fields(entity)[:MAX_INDEXED_FILTERS]


def python_package_name(project_name: str, suffix: str) -> str:
    """A package name for a project slug that cannot shadow the standard library or be a keyword."""
    base = project_name.replace("-", "_")
    return base if base.endswith(suffix) else base + suffix


def entity_names(spec: ProjectSpec) -> list[EntityNames]:
    """Names for every entity, in spec order; raises GenerationError when two names would clash.

    The spec model refuses such a spec already (the same `clashes`); this guards specs built without it."""
    found = clashes(spec.entities)
    if found:
        raise GenerationError("; ".join(clash.message for clash in found))
    return [names_of(entity) for entity in spec.entities]


def check_project_name(project_name: str) -> None:
    if not PROJECT_NAME.match(project_name):
        raise GenerationError(
            f"project name {project_name!r} is not a slug: lower-case letters, digits and '-', starting with a letter"
        )
