"""An architecture diagram per code generation: the entities with their references and the infrastructure
the project deploys, as SVG (stored beside the ZIP and inside it) and as Mermaid in the project's README."""

from __future__ import annotations

from dataclasses import dataclass, replace

from snapinfra_codegen.diagram.mermaid import markdown_section
from snapinfra_codegen.diagram.model import architecture
from snapinfra_codegen.diagram.svg import render_svg
from snapinfra_codegen.generators.base import GeneratedProject
from snapinfra_shared.spec import ProjectSpec, ProjectType

SVG_PATH = "docs/architecture.svg"


@dataclass(frozen=True)
class Diagrammed:
    project: GeneratedProject
    svg: bytes


def with_diagram(
    project: GeneratedProject, project_name: str, spec: ProjectSpec, project_type: ProjectType
) -> Diagrammed:
    """The project with `docs/architecture.svg` added and an Architecture section (Mermaid) at the end of
    its README, whichever generator made it; the SVG's bytes. Everything else the generator said of the
    project (where its template is) stays as it said. Deterministic, like the generators."""
    arch = architecture(spec, project_type, project_name)
    svg = render_svg(arch).encode()
    files = dict(project.files)
    files[f"{project_name}/{SVG_PATH}"] = svg
    readme = f"{project_name}/README.md"
    if readme in files:
        section = markdown_section(arch, SVG_PATH)
        files[readme] = files[readme].rstrip(b"\n") + b"\n\n" + section.encode() + b"\n"
    return Diagrammed(replace(project, files=dict(sorted(files.items()))), svg)
