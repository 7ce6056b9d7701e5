"""The architecture diagram: an SVG that parses and names every entity, field and reference, laid out
without overlapping boxes; the same diagram as Mermaid in the README; both the same for the same spec."""

from __future__ import annotations

import itertools
import random
import xml.etree.ElementTree as ET

import pytest

from snapinfra_codegen.diagram import SVG_PATH, with_diagram
from snapinfra_codegen.diagram.layout import layout
from snapinfra_codegen.diagram.mermaid import er_diagram, flowchart
from snapinfra_codegen.diagram.model import architecture
from snapinfra_codegen.diagram.svg import _box, _target_slots, render_svg
from snapinfra_codegen.generators.base import GeneratedProject
from snapinfra_shared.spec import ProjectSpec

SVG = "{http://www.w3.org/2000/svg}"


def field(name, type_="string", **extra):
    return {"name": name, "type": type_, **extra}


def ref(name, target, **extra):
    return field(name, "reference", references=target, **extra)


LIBRARY = ProjectSpec.model_validate(
    {
        "entities": [
            {"name": "Author", "fields": [field("name"), field("email", "email", unique=True, required=False)]},
            {"name": "Book", "fields": [field("title"), ref("author_id", "Author"), field("price", "decimal")]},
            {"name": "Member", "fields": [field("name")]},
            {
                "name": "Loan",
                "fields": [
                    ref("book_id", "Book", on_delete="cascade"),
                    ref("member_id", "Member"),
                    field("status", "enum", values=["open", "returned"]),
                ],
            },
        ]
    }
)

SHOP = ProjectSpec.model_validate(
    {
        "entities": [
            {"name": "Customer", "fields": [field("name"), field("email", "email", unique=True)]},
            {"name": "Address", "fields": [ref("customer_id", "Customer", on_delete="cascade"), field("city")]},
            {"name": "Category", "fields": [field("name"), ref("parent_id", "Category", required=False)]},
            {"name": "Product", "fields": [field("name"), ref("category_id", "Category"), field("price", "decimal")]},
            {"name": "Warehouse", "fields": [field("name")]},
            {"name": "Stock", "fields": [ref("product_id", "Product"), ref("warehouse_id", "Warehouse")]},
            {"name": "Order", "fields": [ref("customer_id", "Customer"), ref("address_id", "Address", required=False)]},
            {"name": "OrderItem", "fields": [ref("order_id", "Order"), ref("product_id", "Product")]},
            {"name": "Payment", "fields": [ref("order_id", "Order"), field("amount", "decimal")]},
            {"name": "Review", "fields": [ref("product_id", "Product"), ref("customer_id", "Customer")]},
        ]
    }
)

# Optional references may form a cycle; an entity may stand alone.
CYCLE = ProjectSpec.model_validate(
    {
        "entities": [
            {"name": "Team", "fields": [field("name"), ref("captain_id", "Player", required=False)]},
            {"name": "Player", "fields": [field("name"), ref("team_id", "Team")]},
            {"name": "Note", "fields": [field("body", "text")]},
        ]
    }
)


# A hub: nine references end on one small box.
HUB = ProjectSpec.model_validate(
    {
        "entities": [
            {"name": "Hub", "fields": [field("name")]},
            *(
                {"name": f"Spoke{i}", "fields": [ref("hub_id", "Hub"), ref("other_id", "Hub", required=False)]}
                for i in range(5)
            ),
        ]
    }
)


def texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


@pytest.mark.parametrize("spec", [LIBRARY, SHOP, CYCLE], ids=["library", "shop", "cycle"])
@pytest.mark.parametrize("project_type", ["api", "model", "infra", "full-stack"])
def test_the_svg_parses_and_names_every_entity_field_and_reference(spec, project_type):
    words = texts(render_svg(architecture(spec, project_type, "demo")))
    for entity in spec.entities:
        assert entity.name in words
        for f in entity.fields:
            assert f.name in words
            if f.type == "reference":
                assert f"→ {f.references}" + ("" if f.required else "?") in words
    tables = [w for w in words if w.endswith(" table")]
    assert tables == ([] if project_type == "model" else [f"{e.name} table" for e in spec.entities])


def test_a_cascade_is_labelled_and_the_library_reads_as_its_references():
    words = texts(render_svg(architecture(LIBRARY, "full-stack", "library")))
    assert words.count("cascade") == 1  # Loan.book_id; the others restrict
    assert "CloudFormation stack (infra/template.yaml)" in words
    assert "REST API" in words and "Client" in words


def _overlap(a, b) -> bool:
    return a.x < b.x + b.width and b.x < a.x + a.width and a.y < b.y + b.height and b.y < a.y + a.height


@pytest.mark.parametrize("spec", [LIBRARY, SHOP, CYCLE, HUB], ids=["library", "shop", "cycle", "hub"])
def test_no_two_boxes_or_line_slots_overlap_and_every_line_ends_on_its_box(spec):
    arch = architecture(spec, "api", "demo")
    boxes = {e.name: _box(e) for e in arch.entities}
    plan = layout({n: (b.width, b.height) for n, b in boxes.items()}, arch.relations)
    placed = list(plan.boxes.values()) + [p for route in plan.routes for p in route.waypoints]
    for a, b in itertools.combinations(placed, 2):
        assert not _overlap(a, b), (a, b)
    for index, end in _target_slots(plan, boxes).items():
        target = plan.boxes[plan.routes[index].relation.target]
        assert target.y < end < target.y + target.height
    for relation_route in plan.routes:  # every many side is right of its one side, or passes waypoints
        r = relation_route.relation
        step = abs(plan.boxes[r.source].layer - plan.boxes[r.target].layer)
        assert len(relation_route.waypoints) == max(0, step - 1)


def test_the_shop_has_each_reference_one_column_right_of_what_it_references_where_it_can():
    arch = architecture(SHOP, "api", "shop")
    boxes = {e.name: _box(e) for e in arch.entities}
    plan = layout({n: (b.width, b.height) for n, b in boxes.items()}, arch.relations)
    for r in arch.relations:
        if r.source != r.target:
            assert plan.boxes[r.source].layer > plan.boxes[r.target].layer


def test_the_same_spec_draws_the_same_bytes():
    first = render_svg(architecture(SHOP, "full-stack", "shop"))
    assert first == render_svg(architecture(SHOP, "full-stack", "shop"))


def test_the_mermaid_has_every_entity_and_reference_with_its_cardinality():
    er = er_diagram(architecture(LIBRARY, "api", "library"))
    assert er.startswith("erDiagram\n")
    assert '    Author ||--o{ Book : "author_id"' in er
    assert '    Book ||--o{ Loan : "book_id, cascade"' in er
    assert '        reference author_id FK "to Author"' in er
    assert '        email email UK "optional"' in er
    cycle = er_diagram(architecture(CYCLE, "api", "cycle"))
    assert '    Player |o--o{ Team : "captain_id"' in cycle


def test_the_flowchart_shows_what_each_project_type_deploys():
    api = flowchart(architecture(LIBRARY, "api", "library"))
    assert 'client -->|"HTTPS"| api' in api and 'api -->|"read / write"| tables' in api
    assert "$BOOK_TABLE_NAME" in api
    stack = flowchart(architecture(LIBRARY, "infra", "library"))
    assert 'subgraph stack["CloudFormation stack (template.yaml)"]' in stack and "api" not in stack
    assert "#lt;stack#gt;-books" in stack  # < and > would be read as HTML
    assert "pydantic models" in flowchart(architecture(LIBRARY, "model", "library"))


def test_with_diagram_adds_the_svg_and_a_readme_section_and_keeps_every_file():
    project = GeneratedProject(
        {"demo/README.md": b"# demo\n\nHello.\n", "demo/app.py": b"x = 1\n"}, template_path="demo/infra/template.yaml"
    )
    done = with_diagram(project, "demo", LIBRARY, "full-stack")
    assert done.project.template_path == "demo/infra/template.yaml"  # what the deployer reads, kept
    assert sorted(done.project.files) == ["demo/README.md", "demo/app.py", f"demo/{SVG_PATH}"]
    assert done.project.files[f"demo/{SVG_PATH}"] == done.svg
    readme = done.project.files["demo/README.md"].decode()
    assert readme.startswith("# demo\n\nHello.\n\n## Architecture\n")
    assert readme.count("```mermaid") == 2 and readme.endswith("\n")
    assert done.project.files["demo/app.py"] == b"x = 1\n"
    no_readme = with_diagram(GeneratedProject({"demo/app.py": b""}), "demo", LIBRARY, "api")
    assert sorted(no_readme.project.files) == ["demo/app.py", f"demo/{SVG_PATH}"]


def _random_spec(seed: int) -> ProjectSpec:
    """Up to 20 entities with references drawn at random: required ones only to earlier entities (so no
    cycle of them), optional ones anywhere, itself included."""
    rng = random.Random(seed)
    entities = []
    for i in range(rng.randint(1, 20)):
        fields = [field("name")]
        for k in range(rng.randint(0, 3)):
            required = i > 0 and rng.random() < 0.6
            target = rng.randrange(i) if required else rng.randrange(i + 1)
            fields.append(ref(f"ref{k}_id", f"E{target}", required=required))
        entities.append({"name": f"E{i}", "fields": fields})
    return ProjectSpec.model_validate({"entities": entities})


@pytest.mark.parametrize("seed", range(60))
def test_any_valid_spec_is_drawn_without_overlaps_and_names_everything(seed):
    spec = _random_spec(seed)
    test_no_two_boxes_or_line_slots_overlap_and_every_line_ends_on_its_box(spec)
    words = texts(render_svg(architecture(spec, ["api", "model", "infra", "full-stack"][seed % 4], "demo")))
    assert {e.name for e in spec.entities} <= set(words)
