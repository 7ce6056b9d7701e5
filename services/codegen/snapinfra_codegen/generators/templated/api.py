"""The `api` project: a Flask REST API with one blueprint per entity, its tests, Dockerfile and README."""

from __future__ import annotations

from decimal import Decimal

from snapinfra_codegen.generators.templated.models import (
    ModelContext,
    model_module,
    model_tests,
    models_init,
    sample_constants,
    types_module,
)
from snapinfra_codegen.generators.templated.naming import EntityNames, FieldNames, filter_fields
from snapinfra_codegen.generators.templated.pysrc import (
    LINE_LENGTH,
    aliased_import,
    call,
    def_line,
    dict_entry,
    dict_literal,
    from_import,
    list_literal,
    module_key,
    render,
    tuple_literal,
    wrap,
)
from snapinfra_codegen.generators.templated.readme import api_readme
from snapinfra_codegen.generators.templated.samples import ProjectSamples, Value, literal, sample_id
from snapinfra_codegen.generators.templated.versions import API_DEV_REQUIREMENTS, API_REQUIREMENTS

MODELS = ModelContext(package="app.models", api=True)


def referrers(entities: list[EntityNames], name: str) -> list[tuple[EntityNames, FieldNames]]:
    """Each (entity, field) whose reference points at `name` (the one-to-many side)."""
    return [
        (entity, field)
        for entity in entities
        for field in entity.fields
        if field.spec.type == "reference" and field.spec.references == name
    ]


def _set_literal(name: str, items: list[str]) -> str:
    if not items:
        return f"{name}: set[str] = set()"
    return list_literal(name, [f'"{item}"' for item in items]).replace("[", "{", 1)[:-1] + "}"


def _tuple(items: list[str]) -> str:
    if not items:
        return "()"
    return "(" + ", ".join(f'"{item}"' for item in items) + ("," if len(items) == 1 else "") + ")"


def _shape_entry(entity: EntityNames) -> str:
    """`    "Entity": Shape(...),` in SHAPES, split as the formatter splits it when too long."""
    unique = [f.name for f in entity.fields if f.spec.unique]
    decimals = [f.name for f in entity.fields if "decimal" in (f.spec.type, f.spec.items)]
    filters = [f.name for f in filter_fields(entity)]
    arguments = [
        (key, names) for key, names in (("unique", unique), ("filters", filters), ("decimals", decimals)) if names
    ]
    line = f'    "{entity.name}": Shape(' + ", ".join(f"{key}={_tuple(names)}" for key, names in arguments) + "),"
    if len(line) <= LINE_LENGTH:
        return line
    lines = [f'    "{entity.name}": Shape(']
    for key, names in arguments:
        argument = f"        {key}={_tuple(names)},"
        if len(argument) <= LINE_LENGTH:
            lines.append(argument)
        else:
            lines += [f"        {key}=(", *(f'            "{name}",' for name in names), "        ),"]
    lines.append("    ),")
    return "\n".join(lines)


def _config_module(entities: list[EntityNames]) -> str:
    references = [
        (entity, [(f.name, f.spec.references) for f in entity.fields if f.spec.type == "reference"])
        for entity in entities
    ]
    lines = [
        '"""Each entity\'s table variable and what the spec says about its fields.',
        "",
        "Leave a table variable unset (or empty) to keep that entity in memory, which suits development and tests.",
        "With the infra stack deployed, set each variable to the matching stack output (e.g. UserTableName).",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from app.repository import Shape",
        "",
        "TABLE_ENV_VARS = {",
        *(dict_entry(f'"{entity.name}"', f'"{entity.env_var}"') for entity in entities),
        "}",
        "",
        "# Which fields are unique, filter a listing (references and enums), and hold exact decimals.",
        "SHAPES = {",
        *(_shape_entry(entity) for entity in entities),
        "}",
        "",
        "# entity -> {reference field: the entity it refers to}",
    ]
    used = [(entity, fields) for entity, fields in references if fields]
    if used:
        lines.append("REFERENCES: dict[str, dict[str, str]] = {")
        for entity, fields in used:
            lines.append(f'    "{entity.name}": {{')
            lines += [dict_entry(f'"{name}"', f'"{target}"', 8) for name, target in fields]
            lines.append("    },")
        lines.append("}")
    else:
        lines.append("REFERENCES: dict[str, dict[str, str]] = {}")
    lines.append("# entity -> [(entity referring to it, its field, what deleting does: restrict or cascade)]")
    sides = [(entity, referrers(entities, entity.name)) for entity in entities]
    sides = [(entity, found) for entity, found in sides if found]
    if sides:
        lines.append("REFERRERS: dict[str, list[tuple[str, str, str]]] = {")
        for entity, found in sides:
            lines.append(f'    "{entity.name}": [')
            lines += [
                call("", [f'"{child.name}"', f'"{f.name}"', f'"{f.spec.on_delete_rule}"'], 8, ",") for child, f in found
            ]
            lines.append("    ],")
        lines.append("}")
    else:
        lines.append("REFERRERS: dict[str, list[tuple[str, str, str]]] = {}")
    return "\n".join(lines) + "\n"


def _samples_module(entities: list[EntityNames], samples: ProjectSamples) -> str:
    lines = [
        '"""Items the route tests store before they run: those their required references point at."""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Any",
        "",
        "from flask import Flask",
        "",
        "from app.routes._common import REPOSITORIES_EXTENSION",
        "",
        "# entity -> the (entity, record) pairs stored before each of its tests, referred-to items first",
    ]
    parents = [(entity, samples.parents(entity.name)) for entity in entities]
    parents = [(entity, found) for entity, found in parents if found]
    if parents:
        lines.append("PARENTS: dict[str, list[tuple[str, dict[str, Any]]]] = {")
        for entity, found in parents:
            lines.append(f'    "{entity.name}": [')
            for target, record in found:
                lines.append(f'        (\n            "{target}",\n            {{')
                lines += [dict_entry(f'"{key}"', literal(value), 16) for key, value in record.items()]
                lines.append("            },\n        ),")
            lines.append("    ],")
        lines.append("}")
    else:
        lines.append("PARENTS: dict[str, list[tuple[str, dict[str, Any]]]] = {}")
    lines += [
        "",
        "",
        "def seed_parents(app: Flask, entity: str) -> None:",
        '    """Store the items `entity`\'s tests refer to, straight into the app\'s repositories."""',
        "    repositories = app.extensions[REPOSITORIES_EXTENSION]",
        "    for target, record in PARENTS.get(entity, []):",
        "        repositories[target].add(record)",
    ]
    return "\n".join(lines) + "\n"


def _exact_decimal(value: object) -> str | None:
    """A decimal beside `value`, inside its field's bounds, with more digits than a float holds."""
    if not isinstance(value, str):
        return None
    number = Decimal(value)
    for candidate in (number + Decimal("1e-20"), number - Decimal("1e-20")):
        text = str(candidate)
        if "E" not in text and len(candidate.as_tuple().digits) <= 38:
            return text
    return None


def _delete_cases(entity: EntityNames, entities: list[EntityNames], samples: ProjectSamples) -> list[str]:
    """The DELETE_CASES of an entity's route tests, by deleting on paper what the app would delete."""
    by_name = {e.name: e for e in entities}
    created = {f.name: samples.values(entity, f)[0] for f in entity.fields}
    records = [(target, str(record["id"]), record) for target, record in samples.parents(entity.name)]
    records.append((entity.name, "created", created))

    def plan(kind: str, item_id: str, planned: set[tuple[str, str]]) -> list[tuple[str, str]] | None:
        found: list[tuple[str, str]] = []
        for child, field in referrers(entities, kind):
            for other_kind, other_id, record in records:
                if other_kind != child.name or record.get(field.name) != item_id:
                    continue
                if field.spec.on_delete_rule == "restrict":
                    return None
                if (other_kind, other_id) not in planned:
                    planned.add((other_kind, other_id))
                    deeper = plan(other_kind, other_id, planned)
                    if deeper is None:
                        return None
                    found += deeper
        return [*found, (kind, item_id)]

    cases = []
    for target in samples.closure(entity.name):
        item_id = sample_id(target, 0)
        outcome = plan(target, item_id, {(target, item_id)})
        status, cascades = (409, False) if outcome is None else (204, (entity.name, "created") in outcome)
        path = by_name[target].path
        cases.append(
            call("pytest.param", [f'"{path}"', f'"{item_id}"', str(status), str(cascades), f'id="{target}"'], 4, ",")
        )
    return cases


def _variant(values: dict[str, Value]) -> str:
    """One dict of VARIANTS: on a line when it fits, else one entry per line."""
    line = "    {" + ", ".join(f'"{k}": {literal(v)}' for k, v in values.items()) + "},\n"
    if len(line) <= LINE_LENGTH + 1:
        return line
    entries = "".join(dict_entry(f'"{k}"', literal(v), 8) + "\n" for k, v in values.items())
    return "    {\n" + entries + "    },\n"


def _route_constants(entity: EntityNames, entities: list[EntityNames], samples: ProjectSamples) -> str:
    """The constants only the route tests use: VARIANTS, and those of the optional parts."""
    variants = samples.variants(entity)
    blocks = ["# For several items at once: the values of the unique fields of each (the rest are VALID's)."]
    if any(variants):
        blocks.append("VARIANTS: list[dict[str, Any]] = [\n" + "".join(_variant(v) for v in variants) + "]")
    else:
        blocks.append(f"VARIANTS: list[dict[str, Any]] = [{{}}] * {len(variants)}")
    references = [f for f in entity.fields if f.spec.type == "reference"]
    if references:
        blocks.append(list_literal("REFERENCE_FIELDS", [f'"{f.name}"' for f in references]))
    filters = filter_fields(entity)
    if filters:
        entries = []
        for f in filters:
            if f.spec.type == "reference":
                entries.append((f'"{f.name}"', '("not-an-id", UNKNOWN_ID)'))
            else:
                entries.append((f'"{f.name}"', '("not one of the values", None)'))
        blocks += ["# filter -> (a value it refuses, a value no item has or None)", dict_literal("FILTERS", entries)]
    unique = [f for f in entity.fields if f.spec.unique and samples.values(entity, f)[0] is not None]
    if unique:
        blocks.append(list_literal("UNIQUE_FIELDS", [f'"{f.name}"' for f in unique]))
    exact = [(f, _exact_decimal(samples.values(entity, f)[0])) for f in entity.fields if f.spec.type == "decimal"]
    if any(digits for _, digits in exact):
        blocks.append(dict_literal("EXACT_DECIMALS", [(f'"{f.name}"', f'"{digits}"') for f, digits in exact if digits]))
    return "\n".join(blocks)


def _routes_init(entities: list[EntityNames]) -> str:
    lines = ['"""One blueprint per entity; create_app registers them all."""', ""]
    for entity in sorted(entities, key=lambda e: module_key(e.module)):
        lines.append(aliased_import(f"app.routes.{entity.module}", "blueprint", f"{entity.snake}_bp"))
    lines += ["", tuple_literal("BLUEPRINTS", [f"{entity.snake}_bp" for entity in entities])]
    return "\n".join(lines) + "\n"


def _route_module(entity: EntityNames) -> str:
    return render(
        "api/route.py.tmpl",
        entity=entity.name,
        path=entity.path,
        blueprint_line=call(
            "blueprint = Blueprint", [f'"{entity.snake}"', "__name__", f'url_prefix="{entity.path}"'], 0
        ),
        location_line=call("location = url_for", [f'".get_{entity.snake}"', 'item_id=record["id"]'], 4),
        create_def=def_line(f"create_{entity.snake}", [], "Created"),
        list_def=def_line(f"list_{entity.plural_snake}", [], "Json"),
        get_def=def_line(f"get_{entity.snake}", ["item_id: str"], "Json"),
        update_def=def_line(f"update_{entity.snake}", ["item_id: str"], "Json"),
        replace_def=def_line(f"replace_{entity.snake}", ["item_id: str"], "Json"),
        delete_def=def_line(f"delete_{entity.snake}", ["item_id: str"], "tuple[str, int]"),
        models_import=from_import("app.models", [entity.output_class, entity.create_class, entity.update_class]),
        output_class=entity.output_class,
        create_class=entity.create_class,
        update_class=entity.update_class,
        filter_doc=("\n    and filtered by one value of each of:" if filter_fields(entity) else "")
        + "".join(f"\n        ?{f.name}=..." for f in filter_fields(entity)),
    )


def _route_tests(entity: EntityNames, entities: list[EntityNames], samples: ProjectSamples) -> str:
    doc = wrap(
        f"Tests for every {entity.name} route, under {entity.path}.\n\n"
        "They run against the in-memory repository (see conftest.py)."
    )
    constants = sample_constants(entity, samples) + "\n" + _route_constants(entity, entities, samples)
    head = render("api/test_routes_head.py.tmpl", doc=doc, entity=entity.name, path=entity.path, constants=constants)
    parts = [head]
    if any(f.spec.default is None for f in entity.required_fields):
        parts.append(render("api/test_routes_required.py.tmpl"))
    else:
        parts.append(render("api/test_routes_no_required.py.tmpl"))
    if any(f.spec.default is None for f in entity.optional_fields):
        parts.append(render("api/test_routes_optional.py.tmpl"))
    if samples.capacity(entity.name) > 1:
        parts.append(render("api/test_routes_series.py.tmpl"))
    if any(f.spec.type == "reference" for f in entity.fields):
        parts.append(render("api/test_routes_references.py.tmpl"))
    if filter_fields(entity):
        parts.append(render("api/test_routes_filters.py.tmpl"))
    if any(f.spec.unique and samples.values(entity, f)[0] is not None for f in entity.fields):
        parts.append(render("api/test_routes_unique.py.tmpl"))
    cases = _delete_cases(entity, entities, samples)
    if cases:
        parts.append(render("api/test_routes_delete_rules.py.tmpl", cases="\n".join(cases)))
    if any(f.spec.default is not None for f in entity.fields):
        parts.append(render("api/test_routes_defaults.py.tmpl"))
    if "EXACT_DECIMALS = " in constants:
        parts.append(render("api/test_routes_decimal.py.tmpl"))
    return "\n\n\n".join(part.strip("\n") for part in parts) + "\n"


def _openapi_module(project_name: str, entities: list[EntityNames]) -> str:
    classes = [name for e in entities for name in (e.create_class, e.update_class, e.output_class)]
    resources = "\n".join(
        call(
            "_Resource",
            [f'"{e.name}"', f'"{e.path}"', e.create_class, e.update_class, e.output_class],
            4,
            ",",
        )
        for e in entities
    )
    return render(
        "api/openapi.py.tmpl",
        project_name=project_name,
        models_import=from_import("app.models", classes),
        resources=resources,
    )


def _env_example(entities: list[EntityNames]) -> str:
    lines = [
        "# Copy to .env and load it (set -a; . ./.env; set +a) before `flask --app app run`.",
        "# The AWS region of the DynamoDB tables; needed as soon as one table variable below is set.",
        "AWS_REGION=us-east-1",
        "# For a local DynamoDB (such as dynamodb-local or moto's server), its URL:",
        "# AWS_ENDPOINT_URL=http://127.0.0.1:8000",
        "# Each entity's DynamoDB table; leave empty to keep that entity in memory.",
        *(f"{e.env_var}=" for e in entities),
    ]
    return "\n".join(lines) + "\n"


def _dynamodb_tests(entities: list[EntityNames]) -> str:
    modules = [f"test_{entity.snake}_routes" for entity in entities]
    params = "\n".join(
        call("pytest.param", [f'"{entity.name}"', module, f'id="{entity.name}"'], 4, ",")
        for entity, module in zip(entities, modules, strict=True)
    )
    return render(
        "api/test_dynamodb.py.tmpl",
        route_test_imports=from_import("tests", modules),
        entity_params=params,
    )


def api_files(project_name: str, prompt: str, entities: list[EntityNames], *, with_infra: bool) -> dict[str, str]:
    """The api project's files, by path relative to the project folder."""
    samples = ProjectSamples(entities)
    files = {
        "README.md": api_readme(project_name, prompt, entities, with_infra=with_infra),
        "pyproject.toml": render("api/pyproject.toml.tmpl", project_name=project_name),
        "requirements.txt": "\n".join(API_REQUIREMENTS) + "\n",
        "requirements-dev.txt": "\n".join(["-r requirements.txt", *API_DEV_REQUIREMENTS]) + "\n",
        "Dockerfile": render("api/Dockerfile.tmpl", project_name=project_name),
        ".dockerignore": render("api/dockerignore.tmpl"),
        ".gitignore": render("common/gitignore.tmpl"),
        "app/__init__.py": render(
            "api/app_init.py.tmpl",
            module_doc=wrap(f"The {project_name} REST API. `create_app()` builds the Flask application."),
            repositories_doc=wrap(
                f'`repositories` maps entity names (such as "{entities[0].name}") to the storage to use. An entity '
                "left out is stored in the DynamoDB table named by its environment variable (see app/config.py), or "
                "in memory when that variable is unset.",
                4,
                lead=0,
            ),
        ),
        "app/config.py": _config_module(entities),
        "app/errors.py": render("api/errors.py.tmpl"),
        "app/repository.py": render("api/repository.py.tmpl"),
        "app/models/__init__.py": models_init(entities, MODELS, "The request and response models of every entity."),
        "app/models/_types.py": types_module(entities),
        "app/routes/__init__.py": _routes_init(entities),
        "app/routes/_common.py": render("api/routes_common.py.tmpl"),
        "tests/__init__.py": "",
        "tests/conftest.py": render("api/conftest.py.tmpl"),
        "tests/test_app.py": render(
            "api/test_app.py.tmpl",
            delete_line=call("response = client.delete", [f'"{entities[0].path}"'], 4),
            paths=list_literal("PATHS", [f'"{e.path}"' for e in entities]),
            filters=_set_literal("FILTERS", sorted({f.name for e in entities for f in filter_fields(e)})),
        ),
        "tests/test_repository.py": render("api/test_repository.py.tmpl"),
        "tests/test_dynamodb.py": _dynamodb_tests(entities),
        "tests/samples.py": _samples_module(entities, samples),
        "app/openapi.py": _openapi_module(project_name, entities),
        ".env.example": _env_example(entities),
        ".github/workflows/ci.yml": render("api/ci.yml.tmpl"),
    }
    for entity in entities:
        files[f"app/models/{entity.module}.py"] = model_module(entity, MODELS)
        files[f"app/routes/{entity.module}.py"] = _route_module(entity)
        files[f"tests/test_{entity.snake}_models.py"] = model_tests(entity, MODELS, samples)
        files[f"tests/test_{entity.snake}_routes.py"] = _route_tests(entity, entities, samples)
    return files
