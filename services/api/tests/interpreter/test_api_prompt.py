"""POST /api/code-gen with a prompt alone: the spec the interpreter infers is what the event carries."""

from __future__ import annotations

from snapinfra_shared.consumer import parse_body
from snapinfra_shared.spec import ProjectSpec


def test_the_library_prompt_is_requested_with_its_references(alice, stack):
    body = {"projectId": "library", "type": "api", "prompt": "A library system with books, authors and loans"}
    response = alice.post("/api/code-gen", json=body)
    assert response.status_code == 202, response.json
    assert response.json["entities"] == ["Book", "Author", "Loan", "Member"]
    assert response.json["specSource"] == "inferred"
    [message] = stack.drain("codegen")
    spec = ProjectSpec.model_validate(parse_body(message["Body"]).data["spec"])
    references = {(e.name, f.name, f.references) for e in spec.entities for f in e.fields if f.type == "reference"}
    assert {("Book", "author_id", "Author"), ("Loan", "book_id", "Book"), ("Loan", "member_id", "Member")} <= references
    price = next(f for f in spec.entity("Book").fields if f.name == "price")
    assert price.type == "decimal" and price.minimum == 0
