"""Spec v2: references, enums, bounds, defaults and decimals, each refused with the field it is about."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from snapinfra_shared.spec import ProjectSpec


def spec(*entities: tuple[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {"entities": [{"name": name, "fields": fields} for name, fields in entities]}


def refusal(document: dict[str, Any]) -> tuple[tuple[str | int, ...], str]:
    with pytest.raises(ValidationError) as caught:
        ProjectSpec.model_validate(document)
    error = caught.value.errors()[0]
    return tuple(error["loc"]), error["msg"]


LIBRARY = spec(
    (
        "Author",
        [{"name": "name", "min_length": 1, "max_length": 100}, {"name": "email", "type": "email", "unique": True}],
    ),
    (
        "Book",
        [
            {"name": "title", "min_length": 1},
            {"name": "author_id", "type": "reference", "references": "Author", "on_delete": "cascade"},
            {"name": "price", "type": "decimal", "minimum": 0, "default": "9.99"},
            {"name": "status", "type": "enum", "values": ["draft", "published"], "default": "draft"},
            {"name": "tags", "type": "list", "items": "string", "max_items": 10, "required": False},
        ],
    ),
    ("Loan", [{"name": "book_id", "type": "reference", "references": "Book"}, {"name": "due", "type": "date"}]),
)


def test_a_v2_spec_with_every_kind_is_accepted_and_derives_the_one_to_many_side() -> None:
    project = ProjectSpec.model_validate(LIBRARY)
    assert [(e.name, f.name) for e, f in project.referrers("Author")] == [("Book", "author_id")]
    assert [(e.name, f.name) for e, f in project.referrers("Book")] == [("Loan", "book_id")]
    assert project.entity("Book").fields[1].on_delete_rule == "cascade"
    assert project.entity("Loan").fields[0].on_delete_rule == "restrict"


def test_a_v1_spec_means_what_it_meant() -> None:
    project = ProjectSpec.model_validate(spec(("Note", [{"name": "title", "max_length": 80}, {"name": "body"}])))
    field = project.entities[0].fields[0]
    assert (field.type, field.required, field.max_length, field.unique, field.default) == (
        "string",
        True,
        80,
        False,
        None,
    )


@pytest.mark.parametrize(
    ("fields", "location", "words"),
    [
        ([{"name": "s", "type": "enum", "values": []}], ("values",), "at least one value"),
        ([{"name": "s", "type": "enum"}], ("values",), "at least one value"),
        ([{"name": "s", "type": "enum", "values": ["a", "a"]}], ("values",), "only once"),
        ([{"name": "s", "values": ["a"]}], ("values",), "only enum"),
        ([{"name": "r", "type": "reference"}], ("references",), "names the entity"),
        ([{"name": "r", "on_delete": "cascade"}], ("on_delete",), "only reference"),
        ([{"name": "n", "type": "integer", "minimum": 1.5}], ("minimum",), "whole number"),
        ([{"name": "n", "type": "number", "minimum": 5, "maximum": 1}], ("minimum",), "above maximum"),
        ([{"name": "n", "minimum": 1}], ("minimum",), "have a range"),
        ([{"name": "s", "min_length": 5, "max_length": 2}], ("min_length",), "above max_length"),
        ([{"name": "s", "type": "integer", "min_length": 1}], ("min_length",), "have a length"),
        ([{"name": "t", "type": "list"}], ("items",), "type of its items"),
        ([{"name": "t", "type": "list", "items": "string", "min_items": 3, "max_items": 1}], ("min_items",), "above"),
        ([{"name": "t", "max_items": 3}], ("max_items",), "only list"),
        ([{"name": "b", "type": "boolean", "unique": True}], ("unique",), "cannot be unique"),
        ([{"name": "n", "type": "integer", "default": True}], ("default",), "not a boolean"),
        ([{"name": "n", "type": "decimal", "minimum": 0, "default": "-1"}], ("default",), "below minimum"),
        ([{"name": "n", "type": "decimal", "default": "abc"}], ("default",), "must be a number"),
        ([{"name": "s", "type": "enum", "values": ["a"], "default": "b"}], ("default",), "enum's values"),
        ([{"name": "s", "max_length": 3, "default": "long"}], ("default",), "longer than"),
        ([{"name": "u", "type": "uuid", "default": "x"}], ("default",), "takes no default"),
    ],
)
def test_a_field_rule_is_refused_at_its_own_key(fields: list[dict[str, Any]], location: tuple[str], words: str) -> None:
    where, message = refusal(spec(("Thing", fields)))
    assert where == ("entities", 0, "fields", 0, *location)
    assert words in message


def test_a_reference_to_an_unknown_entity_names_the_field() -> None:
    where, message = refusal(spec(("Book", [{"name": "author_id", "type": "reference", "references": "Writer"}])))
    assert where == ("entities", 0, "fields", 0, "references")
    assert "'Writer' is not an entity" in message


def test_a_cycle_of_required_references_is_refused_and_an_optional_link_breaks_it() -> None:
    def chain(required: bool) -> dict[str, Any]:
        return spec(
            ("A", [{"name": "b_id", "type": "reference", "references": "B"}]),
            ("B", [{"name": "c_id", "type": "reference", "references": "C"}]),
            ("C", [{"name": "a_id", "type": "reference", "references": "A", "required": required}]),
        )

    where, message = refusal(chain(required=True))
    assert where[:2] == ("entities", 2) and where[-1] == "references"
    assert "A -> B -> C -> A" in message
    assert ProjectSpec.model_validate(chain(required=False)).referrers("A")[0][0].name == "C"


def test_a_required_self_reference_is_a_cycle_and_an_optional_one_is_a_tree() -> None:
    manager = {"name": "manager_id", "type": "reference", "references": "Employee"}
    where, _ = refusal(spec(("Employee", [manager])))
    assert where == ("entities", 0, "fields", 0, "references")
    assert ProjectSpec.model_validate(spec(("Employee", [{**manager, "required": False}])))
