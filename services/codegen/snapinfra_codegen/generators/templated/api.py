"""The `api` project: a Flask REST API with one blueprint per entity, its tests, Dockerfile and README."""

from __future__ import annotations

from snapinfra_codegen.generators.templated.models import (
    ModelContext,
    model_module,
    model_tests,
    models_init,
    sample_constants,
    types_module,
)
from snapinfra_codegen.generators.templated.naming import EntityNames
from snapinfra_codegen.generators.templated.pysrc import (
    aliased_import,
    call,
    def_line,
    dict_entry,
    from_import,
    module_key,
    render,
    tuple_literal,
    wrap,
)
from snapinfra_codegen.generators.templated.readme import api_readme
from snapinfra_codegen.generators.templated.versions import API_DEV_REQUIREMENTS, API_REQUIREMENTS

MODELS = ModelContext(package="app.models", api=True)


def _config_module(entities: list[EntityNames]) -> str:
    lines = [
        '"""Which environment variable names the DynamoDB table of each entity.',
        "",
        "Leave a variable unset (or empty) to keep that entity in memory, which suits development and tests.",
        "With the infra stack deployed, set each variable to the matching stack output (e.g. UserTableName).",
        '"""',
        "",
        "TABLE_ENV_VARS = {",
        *(dict_entry(f'"{entity.name}"', f'"{entity.env_var}"') for entity in entities),
        "}",
    ]
    return "\n".join(lines) + "\n"


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
    )


def _route_tests(entity: EntityNames) -> str:
    doc = wrap(
        f"Tests for every {entity.name} route, under {entity.path}.\n\n"
        "They run against the in-memory repository (see conftest.py)."
    )
    head = render("api/test_routes_head.py.tmpl", doc=doc, path=entity.path, constants=sample_constants(entity))
    parts = [head]
    if entity.required_fields:
        parts.append(render("api/test_routes_required.py.tmpl"))
    else:
        parts.append(render("api/test_routes_no_required.py.tmpl"))
    if entity.optional_fields:
        parts.append(render("api/test_routes_optional.py.tmpl"))
    return "\n\n\n".join(part.strip("\n") for part in parts) + "\n"


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
        "app/models/_types.py": types_module(),
        "app/routes/__init__.py": _routes_init(entities),
        "app/routes/_common.py": render("api/routes_common.py.tmpl"),
        "tests/__init__.py": "",
        "tests/conftest.py": render("api/conftest.py.tmpl"),
        "tests/test_app.py": render(
            "api/test_app.py.tmpl", delete_line=call("response = client.delete", [f'"{entities[0].path}"'], 4)
        ),
        "tests/test_repository.py": render("api/test_repository.py.tmpl"),
        "tests/test_dynamodb.py": _dynamodb_tests(entities),
    }
    for entity in entities:
        files[f"app/models/{entity.module}.py"] = model_module(entity, MODELS)
        files[f"app/routes/{entity.module}.py"] = _route_module(entity)
        files[f"tests/test_{entity.snake}_models.py"] = model_tests(entity, MODELS)
        files[f"tests/test_{entity.snake}_routes.py"] = _route_tests(entity)
    return files
