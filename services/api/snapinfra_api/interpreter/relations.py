"""Relations: which entity references which.

Three sources, in order: the usual references of known nouns (nouns.toml, "comment" -> "post"), sentences
that spell them out ("pilots belong to spaceships", "each spaceship has many pilots"), and fields that name
another entity ("pilots with name and spaceship"). The child gets a field "<parent>_id".
"""

from __future__ import annotations

from snapinfra_api.interpreter.fields import MAX_FIELDS
from snapinfra_api.interpreter.reading import Draft, Reader
from snapinfra_api.interpreter.vocabulary import MODALS, VOCAB
from snapinfra_api.interpreter.words import compound_key, noun_key, pascal, singular, snake
from snapinfra_shared.spec import FieldSpec


def _entity_at(reader: Reader, begin: int, end: int) -> str | None:
    """The entity a run of words [begin, end) names, if it is one already found."""
    words = [reader.text(k) for k in range(max(begin, end - 2), end)]
    names = []
    if len(words) == 2 and (compound := compound_key(*words)):
        names.append(pascal(compound.split()))
    if key := noun_key(words[-1]):
        names.append(pascal(key.split()))
    names += [pascal([*words[:-1], singular(words[-1])]), pascal([singular(words[-1])])]
    return next((n for n in names if n in reader.drafts), None)


def _entity_before(reader: Reader, k: int) -> str | None:
    if reader.text(k) in MODALS:
        k -= 1
    end = k + 1
    while reader.is_content(k) and end - k <= 2:
        k -= 1
    return _entity_at(reader, k + 1, end) if k + 1 < end else None


def _entity_after(reader: Reader, k: int) -> str | None:
    while reader.is_skip(k):
        k += 1
    end = k
    while reader.is_content(end) and end - k < 4:
        end += 1
    return _entity_at(reader, k, end) if end > k else None


def read_relations(reader: Reader) -> None:
    """ "pilots belong to spaceships", "each spaceship has many pilots": the child gets "<parent>_id"."""
    for k, token in enumerate(reader.tokens):
        child = parent = None
        if token.text in ("belongs", "belong") and reader.text(k + 1) == "to":
            child, parent = _entity_before(reader, k - 1), _entity_after(reader, k + 2)
        elif token.text in ("has", "have") and reader.text(k + 1) in ("many", "multiple", "several"):
            parent, child = _entity_before(reader, k - 1), _entity_after(reader, k + 2)
        if child and parent and child != parent and parent not in reader.drafts[child].parents:
            reader.drafts[child].parents.append(parent)


def references(draft: Draft, by_key: dict[str, str], names: set[str]) -> list[FieldSpec]:
    """The reference fields of an entity: its noun's usual ones present in the prompt, then those read."""
    targets: list[tuple[str, bool]] = []
    if draft.key is not None:
        for group in VOCAB[draft.key].references.split():
            alternatives = [a.replace("_", " ") for a in group.rstrip("?").split("|")]
            present = [by_key[a] for a in alternatives if a in by_key and by_key[a] != draft.name]
            if present:
                targets.append((present[0], not group.endswith("?")))
    targets += [(parent, True) for parent in draft.parents if parent in names]
    fields: list[FieldSpec] = []
    for target, required in targets:
        name = f"{snake(target)}_id"
        if len(name) <= 64 and all(f.name != name for f in fields):
            fields.append(FieldSpec(name=name, type="reference", references=target, required=required))
    return fields[:MAX_FIELDS]
