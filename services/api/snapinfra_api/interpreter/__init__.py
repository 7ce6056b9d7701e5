"""Infer a ProjectSpec from a free-text prompt, for requests that come without a `spec`.

Deterministic, offline and linear in the prompt's length. The vocabulary is data beside this module
(nouns.toml, words.toml, fields.toml, loaded by vocabulary.py); the code is in four steps:
words.py tokenizes, reading.py finds the entities and the fields a prompt names, fields.py types fields by
their names, relations.py decides which entity references which. A prompt that names nothing to store
raises UninterpretablePrompt, whose message is meant for the user.
"""

from __future__ import annotations

from snapinfra_api.interpreter.fields import MAX_ENTITIES, MAX_FIELDS, make_field, vocab_fields
from snapinfra_api.interpreter.reading import Draft, Reader
from snapinfra_api.interpreter.relations import Link, brought, phrased, resolve, spelled_out, usual
from snapinfra_api.interpreter.words import pascal, snake, tokenize
from snapinfra_shared.naming import clashes
from snapinfra_shared.spec import EntitySpec, FieldSpec, ProjectSpec

__all__ = ["MAX_ENTITIES", "MAX_FIELDS", "UninterpretablePrompt", "infer_spec"]

_ADVICE = "name at least one thing to store, e.g. 'users' or 'orders', or send a `spec`."
EMPTY_PROMPT = f"The prompt is empty: {_ADVICE}"
NOTHING_TO_STORE = (
    "Could not tell from the prompt what the project should store (as 'users' and 'orders' in "
    f"'a REST API to manage users and orders'): {_ADVICE}"
)


class UninterpretablePrompt(ValueError):
    """The prompt names nothing to build; the message is shown to the user as the reason."""


def infer_spec(prompt: str) -> ProjectSpec:
    """The entities a prompt asks for, with typed fields and references between them."""
    if not prompt.strip():
        raise UninterpretablePrompt(EMPTY_PROMPT)
    reader = Reader(tokenize(prompt))
    reader.read()
    if not reader.drafts:
        reader.apply_domain()
    if not reader.drafts:
        reader.read_plural_lists()
    if not reader.drafts:
        raise UninterpretablePrompt(NOTHING_TO_STORE)
    drafts = list(reader.drafts.values())[:MAX_ENTITIES]
    for key in brought(drafts):
        name = pascal(key.split())
        if len(drafts) < MAX_ENTITIES and name not in reader.drafts:
            drafts.append(reader.add(name, key))
    return _build(drafts, reader)


def _build(drafts: list[Draft], reader: Reader) -> ProjectSpec:
    # Two nouns whose generated names would clash (bus and buse share /buses): the later one is left out.
    provisional = [EntitySpec(name=draft.name, fields=_base_fields(draft, {})) for draft in drafts]
    clashing = {clash.location[1] for clash in clashes(provisional) if clash.location[2:] == ("name",)}
    kept = [draft for i, draft in enumerate(drafts) if i not in clashing]
    links = resolve(kept, [spelled_out(reader), _field_links(kept), usual(kept), phrased(reader)])
    entities = []
    for draft in kept:
        fields = _base_fields(draft, {link.parent: link for link in links[draft.name]})
        taken = {f.name for f in fields}
        refs = [f for f in map(_reference_field, links[draft.name]) if f is not None and f.name not in taken]
        fields = fields[: MAX_FIELDS - len(refs)] + refs
        entities.append(EntitySpec(name=draft.name, fields=fields))
    return ProjectSpec(entities=entities)


def _field_links(drafts: list[Draft]) -> list[Link]:
    """Fields that name another entity: "pilots with name and spaceship"."""
    names = {draft.name for draft in drafts}
    return [
        Link(draft.name, item.ref, item.required)
        for draft in drafts
        for item in draft.items
        if item.ref is not None and item.ref in names and item.ref != draft.name
    ]


def _reference_field(link: Link) -> FieldSpec | None:
    name = f"{snake(link.parent)}_id"
    if len(name) > 64:
        return None
    on_delete = "cascade" if link.cascade else None
    return FieldSpec(name=name, type="reference", references=link.parent, required=link.required, on_delete=on_delete)


def _base_fields(draft: Draft, links: dict[str, Link]) -> list[FieldSpec]:
    """The fields the prompt lists (one naming a linked entity becomes its reference), else the noun's usual
    fields, else a name and a description."""
    fields: list[FieldSpec] = []
    for item in draft.items:
        link = links.get(item.ref) if item.ref is not None else None
        candidate = _reference_field(link) if link is not None else None
        if candidate is None:
            candidate = make_field(item.name, item.type, item.required, noun=draft.key)
        if all(f.name != candidate.name for f in fields):
            fields.append(candidate)
    if fields:
        return fields
    if draft.key is not None:
        return vocab_fields(draft.key)
    return [make_field("name"), make_field("description", required=False)]
