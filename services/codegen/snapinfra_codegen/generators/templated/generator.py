"""TemplatedGenerator: the default generator, deterministic and offline."""

from __future__ import annotations

from collections.abc import Callable

from snapinfra_codegen.generators.base import GeneratedProject, GenerationError, GenerationRequest
from snapinfra_codegen.generators.templated.api import api_files
from snapinfra_codegen.generators.templated.function import function_files, function_source
from snapinfra_codegen.generators.templated.infra import infra_readme, template_yaml
from snapinfra_codegen.generators.templated.models import (
    ModelContext,
    model_module,
    model_tests,
    models_init,
    types_module,
)
from snapinfra_codegen.generators.templated.naming import (
    EntityNames,
    check_project_name,
    entity_names,
    python_package_name,
)
from snapinfra_codegen.generators.templated.pysrc import render
from snapinfra_codegen.generators.templated.readme import entity_list, model_readme
from snapinfra_codegen.generators.templated.samples import ProjectSamples
from snapinfra_codegen.generators.templated.versions import MODEL_DEV_REQUIREMENTS, MODEL_REQUIREMENTS

# Where each project type's CloudFormation template is, in the project folder: said here only, and carried
# to the api and the deployer by the artifact (`GeneratedProject.template_path`).
TEMPLATE_PATHS = {"infra": "template.yaml", "full-stack": "infra/template.yaml"}


def _api(request: GenerationRequest, entities: list[EntityNames]) -> dict[str, str]:
    return api_files(request.project_name, request.prompt, entities, with_infra=False)


def _full_stack(request: GenerationRequest, entities: list[EntityNames]) -> dict[str, str]:
    files = api_files(request.project_name, request.prompt, entities, with_infra=True)
    files.update(function_files(files["requirements.txt"]))
    files[TEMPLATE_PATHS["full-stack"]] = template_yaml(request.project_name, entities, function=True)
    files["infra/README.md"] = infra_readme(request.project_name, request.prompt, entities, standalone=False)
    return files


def _infra(request: GenerationRequest, entities: list[EntityNames]) -> dict[str, str]:
    return {
        TEMPLATE_PATHS["infra"]: template_yaml(request.project_name, entities),
        "README.md": infra_readme(request.project_name, request.prompt, entities, standalone=True),
    }


def _model(request: GenerationRequest, entities: list[EntityNames]) -> dict[str, str]:
    package = python_package_name(request.project_name, "_models")
    ctx = ModelContext(package=package, api=False)
    samples = ProjectSamples(entities)
    files = {
        "README.md": model_readme(request.project_name, request.prompt, package, entities),
        "pyproject.toml": render(
            "models/pyproject.toml.tmpl",
            project_name=request.project_name,
            package=package,
            entity_list=entity_list(entities),
        ),
        "requirements.txt": "\n".join(MODEL_REQUIREMENTS) + "\n",
        "requirements-dev.txt": "\n".join(["-r requirements.txt", *MODEL_DEV_REQUIREMENTS]) + "\n",
        ".gitignore": render("common/gitignore.tmpl"),
        f"{package}/__init__.py": models_init(entities, ctx, f"Pydantic models for {entity_list(entities)}."),
        f"{package}/_types.py": types_module(entities),
        "tests/__init__.py": "",
    }
    for entity in entities:
        files[f"{package}/{entity.module}.py"] = model_module(entity, ctx)
        files[f"tests/test_{entity.snake}_models.py"] = model_tests(entity, ctx, samples)
    return files


_BUILDERS: dict[str, Callable[[GenerationRequest, list[EntityNames]], dict[str, str]]] = {
    "api": _api,
    "model": _model,
    "infra": _infra,
    "full-stack": _full_stack,
}


class TemplatedGenerator:
    """Builds every project type from string templates: no network, no clock, no randomness.

    The same request always gives byte-identical files, all under a folder named after the project.
    """

    name = "templated"

    def generate(self, request: GenerationRequest) -> GeneratedProject:
        check_project_name(request.project_name)
        builder = _BUILDERS.get(request.project_type)
        if builder is None:
            raise GenerationError(f"the templated generator cannot build a {request.project_type!r} project")
        entities = entity_names(request.spec)
        files = builder(request, entities)
        root = request.project_name
        template = TEMPLATE_PATHS.get(request.project_type)
        return GeneratedProject(
            files={f"{root}/{path}": content.encode("utf-8") for path, content in sorted(files.items())},
            template_path=f"{root}/{template}" if template else None,
            function=function_source(root) if request.project_type == "full-stack" else None,
        )
