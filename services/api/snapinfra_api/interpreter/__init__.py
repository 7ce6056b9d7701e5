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
from snapinfra_api.interpreter.relations import read_relations, references
from snapinfra_api.interpreter.words import snake, tokenize
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
        raise UninterpretablePrompt(NOTHING_TO_STORE)
    read_relations(reader)
    return _build(list(reader.drafts.values())[:MAX_ENTITIES])


def _build(drafts: list[Draft]) -> ProjectSpec:
    names = {d.name for d in drafts}
    by_key: dict[str, str] = {}
    for draft in drafts:
        if draft.key is not None:
            by_key.setdefault(draft.key, draft.name)
    entities = []
    for draft in drafts:
        fields = _base_fields(draft, names)
        refs = references(draft, by_key, names)
        fields = fields[: MAX_FIELDS - len(refs)]
        taken = {f.name for f in fields}
        fields += [f for f in refs if f.name not in taken]
        entities.append(EntitySpec(name=draft.name, fields=fields))
    # Two nouns whose generated names would clash (bus and buse share /buses): the later one is left out.
    clashing = {clash.location[1] for clash in clashes(entities) if clash.location[2:] == ("name",)}
    return ProjectSpec(entities=[entity for i, entity in enumerate(entities) if i not in clashing])


def _base_fields(draft: Draft, names: set[str]) -> list[FieldSpec]:
    fields: list[FieldSpec] = []
    for item in draft.items:
        reference = f"{snake(item.ref)}_id" if item.ref is not None else ""
        if item.ref in names and item.ref != draft.name and len(reference) <= 64:
            candidate = FieldSpec(name=reference, type="reference", references=item.ref, required=item.required)
        else:
            candidate = make_field(item.name, item.type, item.required, noun=draft.key)
        if all(f.name != candidate.name for f in fields):
            fields.append(candidate)
    if fields:
        return fields
    if draft.key is not None:
        return vocab_fields(draft.key)
    return [make_field("name"), make_field("description", required=False)]
