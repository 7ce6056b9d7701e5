"""The architecture diagram as Mermaid, for the generated README (GitHub and most Markdown viewers draw
it): an erDiagram of the entities and their references, and a flowchart of what the project deploys."""

from __future__ import annotations

import re

from snapinfra_codegen.diagram.model import Architecture, Column

_WORD = re.compile(r"[^A-Za-z0-9_]")


def _attribute(column: Column) -> str:
    kind = "reference" if column.references else _WORD.sub("_", column.type.split("<", 1)[0])
    keys = ",".join(column.keys)
    notes = [f"to {column.references}"] if column.references else []
    if not column.required:
        notes.append("optional")
    note = f' "{", ".join(notes)}"' if notes else ""
    return f"        {kind} {column.name}{' ' + keys if keys else ''}{note}"


def er_diagram(arch: Architecture) -> str:
    lines = ["erDiagram"]
    for relation in arch.relations:
        one = "||" if relation.required else "|o"
        label = relation.field + (", cascade" if relation.on_delete == "cascade" else "")
        lines.append(f'    {relation.target} {one}--o{{ {relation.source} : "{label}"')
    for entity in arch.entities:
        lines += [f"    {entity.name} {{", *(_attribute(c) for c in entity.columns), "    }"]
    return "\n".join(lines)


def flowchart(arch: Architecture) -> str:
    infra = arch.infrastructure
    lines = ["flowchart LR"]
    shapes = {"client": ('(["', '"])'), "api": ('["', '"]'), "table": ('[("', '")]'), "package": ('[["', '"]]')}
    members = set(infra.group_members)
    for resource in infra.resources:
        if resource.id not in members:
            left, right = shapes[resource.kind]
            lines.append(f"    {resource.id}{left}{resource.title}<br/>{_label(resource.lines[0])}{right}")
    if infra.group_id:
        lines.append(f'    subgraph {infra.group_id}["{infra.group_title}"]')
        for resource in infra.resources:
            if resource.id in members:
                left, right = shapes[resource.kind]
                lines.append(f"        {resource.id}{left}{resource.title}<br/>{_label(resource.lines[0])}{right}")
        lines.append("    end")
    lines += [f'    {frm} -->|"{label}"| {to}' for frm, to, label in infra.calls]
    return "\n".join(lines)


def markdown_section(arch: Architecture, svg_path: str) -> str:
    """A README section: the Mermaid drawings, and where the SVG of the same diagram is."""
    return "\n\n".join(
        [
            "## Architecture",
            f"The data model and what this project deploys; the same diagram as an image is `{svg_path}`.",
            f"```mermaid\n{er_diagram(arch)}\n```",
            f"```mermaid\n{flowchart(arch)}\n```",
            arch.infrastructure.note,
        ]
    )


def _label(text: str) -> str:
    """Text inside a quoted Mermaid label, where < and > would be read as HTML."""
    return text.replace("<", "#lt;").replace(">", "#gt;")
