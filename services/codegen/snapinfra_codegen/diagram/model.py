"""What an architecture diagram shows, from the spec and the project type: the entities with their fields
and references (many-to-one), and the infrastructure the project deploys. The SVG and the Mermaid are two
drawings of this one description, so they cannot disagree.

What each project type deploys follows the templated generator: `api` is a Flask app (gunicorn in Docker)
whose entities live in DynamoDB tables named by environment variables (in memory when unset);
`full-stack` adds `infra/template.yaml`, a CloudFormation stack with one table per entity; `infra` is that
stack alone; `model` is a package of pydantic models and deploys nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from snapinfra_shared.naming import EntityNames, names_of
from snapinfra_shared.spec import FieldSpec, ProjectSpec, ProjectType

_SHORT_TYPES = {"datetime": "datetime", "reference": "ref"}


@dataclass(frozen=True)
class Column:
    """One row of an entity's box: a field, its type as shown, and its keys (PK, FK, UK)."""

    name: str
    type: str
    keys: tuple[str, ...]
    required: bool
    references: str | None = None


@dataclass(frozen=True)
class Relation:
    """A many-to-one reference: many `source` items point at one `target` through `field`."""

    source: str
    field: str
    target: str
    required: bool
    on_delete: str


@dataclass(frozen=True)
class Entity:
    name: str
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class Resource:
    """A deployed (or run) piece: the client, the API, a table, the model package."""

    id: str
    kind: str  # client | api | table | package
    title: str
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Infrastructure:
    """Resources, the group the tables sit in (a CloudFormation stack, or tables the user provides), and
    the calls between them as (from, to, label); a call to the group's id reaches every table in it."""

    resources: tuple[Resource, ...]
    group_id: str | None
    group_title: str | None
    group_members: tuple[str, ...]
    calls: tuple[tuple[str, str, str], ...]
    note: str


@dataclass(frozen=True)
class Architecture:
    project_name: str
    project_type: ProjectType
    entities: tuple[Entity, ...]
    relations: tuple[Relation, ...]
    infrastructure: Infrastructure


def _column(field: FieldSpec) -> Column:
    keys: list[str] = []
    if field.type == "reference":
        keys.append("FK")
    if field.unique:
        keys.append("UK")
    shown = _SHORT_TYPES.get(field.type, field.type)
    if field.type == "list" and field.items:
        shown = f"list<{field.items}>"
    elif field.type == "reference" and field.references:
        shown = f"→ {field.references}"
    return Column(field.name, shown, tuple(keys), field.required, field.references)


def _entity(names: EntityNames) -> Entity:
    id_column = Column("id", "uuid", ("PK",), True)
    return Entity(names.name, (id_column, *(_column(f) for f in names.spec.fields)))


def relations(spec: ProjectSpec) -> tuple[Relation, ...]:
    return tuple(
        Relation(entity.name, field.name, field.references, field.required, field.on_delete_rule)
        for entity in spec.entities
        for field in entity.fields
        if field.type == "reference" and field.references is not None
    )


def _table(names: EntityNames, *, in_stack: bool) -> Resource:
    where = f"<stack>-{names.table_suffix}" if in_stack else f"${names.env_var}"
    return Resource(f"table_{names.snake}", "table", f"{names.name} table", (where, "DynamoDB · key id"))


def infrastructure(spec: ProjectSpec, project_type: ProjectType, project_name: str) -> Infrastructure:
    entities = [names_of(entity) for entity in spec.entities]
    if project_type == "model":
        package = Resource(
            "package", "package", "Python package", (f"{project_name} · pydantic models", "3 models per entity")
        )
        return Infrastructure((package,), None, None, (), (), "A model project deploys nothing.")
    in_stack = project_type in ("infra", "full-stack")
    tables = tuple(_table(names, in_stack=in_stack) for names in entities)
    members = tuple(table.id for table in tables)
    group_title = (
        f"CloudFormation stack ({'infra/' if project_type == 'full-stack' else ''}template.yaml)"
        if in_stack
        else "DynamoDB tables you provide"
    )
    if project_type == "infra":
        return Infrastructure(
            tables,
            "stack",
            group_title,
            members,
            (),
            "One DynamoDB table per entity: on-demand, encrypted, point-in-time recovery.",
        )
    client = Resource("client", "client", "Client", ("HTTP, JSON",))
    routes = tuple(names.path for names in entities)
    shown = routes if len(routes) <= 4 else (*routes[:3], f"… {len(routes) - 3} more")
    api = Resource("api", "api", "REST API", ("Flask · gunicorn · Docker", *shown))
    note = (
        "The API reads each table's name from the stack's outputs."
        if in_stack
        else "Each entity is kept in memory until its table variable names a DynamoDB table."
    )
    return Infrastructure(
        (client, api, *tables),
        "stack" if in_stack else "tables",
        group_title,
        members,
        (("client", "api", "HTTPS"), ("api", "stack" if in_stack else "tables", "read / write")),
        note,
    )


def architecture(spec: ProjectSpec, project_type: ProjectType, project_name: str) -> Architecture:
    return Architecture(
        project_name,
        project_type,
        tuple(_entity(names_of(entity)) for entity in spec.entities),
        relations(spec),
        infrastructure(spec, project_type, project_name),
    )
