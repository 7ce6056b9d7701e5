"""Relations: which entity references which (many-to-one; the one-to-many side is derived by the spec).

From the strongest source to the weakest, each adding a link only between two entities not linked yet:
1. sentences that spell a link out: "each pilot belongs to a spaceship", "a team has many players",
   "a book has one author", "students and clubs via memberships" (a link entity referencing both);
2. fields that name another entity ("pilots with name and spaceship"), read by reading.py;
3. the usual references of known nouns (nouns.toml: a comment references a post);
4. phrasing: "viewings of a property", "users write posts", "patients and their appointments";
5. an entity the vocabulary does not know, still linked to nothing, references the one named just before
   it if the vocabulary does not know that one either ("spaceships and pilots": Pilot -> Spaceship), unless
   the prompt lists its fields.
Links from 1 and 3 are required as the vocabulary says; from 4 and 5 they are optional. A required link that
would close a cycle of required references is made optional, so the spec never refuses the result.
"""

from __future__ import annotations

from dataclasses import dataclass

from snapinfra_api.interpreter.reading import Draft, Reader
from snapinfra_api.interpreter.vocabulary import (
    AUTHORING_VERBS,
    CHILD_OF,
    CHILD_PREPOSITIONS,
    HAVING,
    LINK_WORDS,
    MANY_WORDS,
    MODALS,
    ONE_WORDS,
    POSSESSIVES,
    RELATIVE_WORDS,
    SEPARATORS,
    VOCAB,
)
from snapinfra_api.interpreter.words import SENTENCE_ENDS, compound_key, noun_key, pascal, singular

_PARTICIPLE_ENDINGS = ("ed", "en")


@dataclass(frozen=True, slots=True)
class Link:
    """The child holds a reference to the parent."""

    child: str
    parent: str
    required: bool
    cascade: bool = False


def _entity_at(reader: Reader, begin: int, end: int) -> str | None:
    """The entity a run of words [begin, end) names, if it is one already found ("centers" may name the
    DistributionCenter found earlier)."""
    words = [reader.text(k) for k in range(max(begin, end - 2), end)]
    names = []
    if len(words) == 2 and (compound := compound_key(*words)):
        names.append(pascal(compound.split()))
    if key := noun_key(words[-1]):
        names.append(pascal(key.split()))
    names += [pascal([*words[:-1], singular(words[-1])]), pascal([singular(words[-1])])]
    found = next((n for n in names if n in reader.drafts), None)
    if found is None:
        tail = pascal([singular(words[-1])])
        found = next((n for n in reader.drafts if n.endswith(tail) and n != tail), None)
    return found


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


def _is_plural_at(reader: Reader, k: int) -> bool:
    while reader.is_skip(k):
        k += 1
    end = k
    while reader.is_content(end) and end - k < 4:
        end += 1
    last = reader.text(end - 1)
    return end > k and singular(last) != last


def _phrase_at(reader: Reader, k: int, phrase: tuple[str, ...]) -> bool:
    return all(reader.text(k + i) == word for i, word in enumerate(phrase))


def _mentions(reader: Reader) -> list[tuple[int, str]]:
    """Where each entity is named, as (token index, entity), in prompt order."""
    found = []
    for k in range(len(reader.tokens)):
        if reader.is_content(k) and not reader.is_content(k + 1):
            begin = k - 1 if reader.is_content(k - 1) else k
            name = _entity_at(reader, begin, k + 1)
            if name is not None:
                found.append((k, name))
    return found


def spelled_out(reader: Reader) -> list[Link]:
    """Links the prompt states: belongs to / references, has many / has one, via / through."""
    links: list[Link] = []
    mentions = _mentions(reader)
    for k, token in enumerate(reader.tokens):
        text = token.text
        phrase = next((p for p in CHILD_OF.get(text, ()) if _phrase_at(reader, k, p)), None)
        if phrase is not None:
            child, parent = _entity_before(reader, k - 1), _entity_after(reader, k + len(phrase))
            if child and parent:
                links.append(Link(child, parent, True))
        elif text in HAVING:
            owner = _entity_before(reader, k - 1)
            after = reader.text(k + 1)
            if owner is None:
                continue
            if after in MANY_WORDS:
                child = _entity_after(reader, k + 2)
                if child:
                    links.append(Link(child, owner, True))
            elif after in ONE_WORDS:
                target = _entity_after(reader, k + 2)
                if target:
                    links.append(Link(owner, target, True))
            elif (other := _entity_after(reader, k + 1)) is not None:
                plural = _is_plural_at(reader, k + 1)
                links.append(Link(other, owner, True) if plural else Link(owner, other, True))
        elif text in LINK_WORDS:
            link = _entity_after(reader, k + 1)
            start = max((m for m in range(k) if reader.text(m) in SENTENCE_ENDS), default=-1)
            before = [name for at, name in mentions if start < at < k and name != link]
            ends = list(dict.fromkeys(reversed(before)))[:2]
            if link and len(ends) == 2:
                links += [Link(link, ends[1], True), Link(link, ends[0], True)]
    return links


def phrased(reader: Reader) -> list[Link]:
    """Links the phrasing suggests: "<child> of/in/per/by <parent>", "<owner> writes <things>",
    "<owner> and their <things>"."""
    links: list[Link] = []
    for k, token in enumerate(reader.tokens):
        text = token.text
        if text in CHILD_PREPOSITIONS:
            before = k - 1
            if reader.text(before).endswith(_PARTICIPLE_ENDINGS) and not reader.is_content(before):
                before -= 1  # "books written by authors"
            child, parent = _entity_before(reader, before), _entity_after(reader, k + 1)
            if child and parent:
                links.append(Link(child, parent, False))
        elif text in AUTHORING_VERBS and token.kind == "word":
            before = k - 1
            while reader.text(before) in RELATIVE_WORDS and before > k - 3:
                before -= 1
            owner, things = _entity_before(reader, before), _entity_after(reader, k + 1)
            if owner and things:
                links.append(Link(things, owner, False))
        elif text in POSSESSIVES:
            before = k - 1
            while reader.text(before) in SEPARATORS:
                before -= 1
            owner, things = _entity_before(reader, before), _entity_after(reader, k + 1)
            if owner and things:
                links.append(Link(things, owner, False))
    return links


def usual(drafts: list[Draft]) -> list[Link]:
    """The usual references of known nouns (nouns.toml) whose targets the prompt names."""
    by_key: dict[str, str] = {}
    for draft in drafts:
        if draft.key is not None:
            by_key.setdefault(draft.key, draft.name)
    links = []
    for draft in drafts:
        if draft.key is None:
            continue
        noun = VOCAB[draft.key]
        for group in noun.references.split():
            alternatives = [a.replace("_", " ") for a in group.rstrip("?").split("|")]
            present = [a for a in alternatives if a in by_key and by_key[a] != draft.name]
            if present:
                links.append(Link(draft.name, by_key[present[0]], not group.endswith("?"), present[0] in noun.cascade))
    return links


def brought(drafts: list[Draft]) -> list[str]:
    """Nouns a known noun brings along when none of its group's alternatives is named (a loan's member)."""
    keys = {draft.key for draft in drafts}
    added: list[str] = []
    for draft in drafts:
        noun = VOCAB[draft.key] if draft.key is not None else None
        if noun is None or noun.brings is None:
            continue
        for group in noun.references.split():
            alternatives = {a.replace("_", " ") for a in group.rstrip("?").split("|")}
            if noun.brings in alternatives and not alternatives & keys and noun.brings not in added:
                added.append(noun.brings)
    return added


def resolve(drafts: list[Draft], sources: list[list[Link]]) -> dict[str, list[Link]]:
    """Each entity's links, strongest source first: no self-links, no second link between two entities,
    and no cycle of required links (a link that would close one is kept, optional)."""
    names = [draft.name for draft in drafts]
    known = {draft.name: draft.key for draft in drafts}
    listed = {draft.name for draft in drafts if draft.items}  # fields spelled out: no guessed reference
    chosen: dict[str, list[Link]] = {name: [] for name in names}
    pairs: set[frozenset[str]] = set()

    def reaches(start: str, goal: str) -> bool:
        seen, stack = set(), [start]
        while stack:
            name = stack.pop()
            if name == goal:
                return True
            if name not in seen:
                seen.add(name)
                stack += [link.parent for link in chosen[name] if link.required]
        return False

    def add(link: Link) -> None:
        pair = frozenset((link.child, link.parent))
        if link.child == link.parent or link.child not in chosen or link.parent not in chosen or pair in pairs:
            return
        if link.required and reaches(link.parent, link.child):
            link = Link(link.child, link.parent, False, link.cascade)
        pairs.add(pair)
        chosen[link.child].append(link)

    for source in sources:
        for link in source:
            add(link)
    linked = {name for name, links in chosen.items() if links} | {
        link.parent for links in chosen.values() for link in links
    }
    for i, name in enumerate(names):
        previous = names[i - 1] if i else None
        guessable = known[name] is None and name not in listed and name not in linked
        if previous and guessable and known[previous] is None:
            add(Link(name, previous, False))
            linked |= {name, previous}
    return chosen
