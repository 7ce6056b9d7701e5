"""The interpreter's vocabulary, loaded once from the data files beside this module.

nouns.toml: the nouns it knows, with their usual fields and references, their aliases, and the applications
a single word stands for. words.toml: the word classes the reader uses to find nouns and field lists.
fields.toml: how a field's name gives its type, bounds and enum values. Edit those files, not this one.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, cast

from snapinfra_shared.spec import FieldType


def _load(name: str) -> dict[str, Any]:
    return tomllib.loads(files("snapinfra_api.interpreter").joinpath(name).read_text(encoding="utf-8"))


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_NOUNS_FILE = _load("nouns.toml")
_WORDS_FILE = _load("words.toml")
_FIELDS_FILE = _load("fields.toml")


@dataclass(frozen=True, slots=True)
class Noun:
    """A known noun: its usual fields ("name email? role") and reference groups ("customer|user order?")."""

    fields: str
    references: str
    cascade: frozenset[str]  # the referenced nouns whose deletion deletes this one ("order item" -> "order")
    brings: str | None  # a noun added when none of its group's alternatives is in the prompt (loan -> member)


VOCAB: dict[str, Noun] = {
    noun: Noun(
        entry["fields"],
        entry.get("references", ""),
        frozenset(entry.get("cascade", "").replace("_", " ").split("|")) - {""},
        entry.get("brings"),
    )
    for noun, entry in _NOUNS_FILE["nouns"].items()
}
ALIASES: dict[str, str] = dict(_NOUNS_FILE["aliases"])
DOMAINS: dict[str, tuple[str, ...]] = {word: tuple(nouns) for word, nouns in _NOUNS_FILE["domains"].items()}
_noun_words = _NOUNS_FILE["words"]
VERBISH = _words(_noun_words["verbish"])
WEAK = _words(_noun_words["weak"])
NOT_A_LIBRARY = _words(_noun_words["not_a_library"])
STORE_BEFORE = _words(_noun_words["store_before"])
NOUNS = frozenset(VOCAB) | frozenset(ALIASES)

_w = {name: _words(value) for name, value in _WORDS_FILE.items() if isinstance(value, str)}
SKIP = _w["skip"]
FUNCTION = _w["function"]
VERBS = _w["verbs"]
GENERIC = _w["generic"]
FEATURES = _w["features"]
NOT_FIELDS = (FEATURES | GENERIC) - _w["fields_anyway"]
VERB_TRIGGERS = _w["verb_triggers"]
CONTAINERS = _w["containers"] | frozenset(DOMAINS)
CONTAINER_LINKS = _w["container_links"]
DECLARE = _w["declare"]
SUFFIX_TRIGGERS = _w["suffix_triggers"] | DECLARE
CRUD_WORDS = _w["crud_words"]
COLLECTIVES = _w["collectives"]
OF_LISTS = COLLECTIVES | _w["of_lists"]
SEPARATORS = _w["separators"]
MODALS = _w["modals"]
OBJECT_STARTS = _w["object_starts"]
FIELD_OPENERS = _w["field_openers"]
HAS = _w["has"]
FIELD_FILLER = _w["field_filler"]
STRONG_STOPS = _w["strong_stops"] | VERB_TRIGGERS
COMMANDS = _w["commands"]
WEAK_STOPS = _w["weak_stops"]
FIELD_STARTS = _w["field_starts"]
INVARIANT = _w["invariant"]
GENERIC_PAIRS: frozenset[tuple[str, ...]] = frozenset(tuple(pair.split()) for pair in _WORDS_FILE["generic_pairs"])
IRREGULAR: dict[str, str] = dict(_WORDS_FILE["irregular"])
# first word -> the phrases it begins
CHILD_OF: dict[str, list[tuple[str, ...]]] = {}
for _phrase in _WORDS_FILE["child_of"]:
    CHILD_OF.setdefault(_phrase.split()[0], []).append(tuple(_phrase.split()))
HAVING = _w["having"]
MANY_WORDS = _w["many_words"]
ONE_WORDS = _w["one_words"]
CHILD_PREPOSITIONS = _w["child_prepositions"]
AUTHORING_VERBS = _w["authoring_verbs"]
RELATIVE_WORDS = _w["relative_words"]
LINK_WORDS = _w["link_words"]
POSSESSIVES = _w["possessives"]
NOT_ENTITIES = (
    SKIP | FUNCTION | VERBS | GENERIC | FEATURES | VERB_TRIGGERS | CONTAINERS | DECLARE | SUFFIX_TRIGGERS
) | (SEPARATORS | COLLECTIVES)

_markers = _FIELDS_FILE["markers"]
MARKERS: dict[str, bool | None] = {
    **dict.fromkeys(_markers["optional"].split(), False),
    **dict.fromkeys(_markers["required"].split(), True),
    **dict.fromkeys(_markers["neutral"].split(), None),
}
TYPE_WORDS: dict[str, FieldType] = {
    word: cast(FieldType, type_) for type_, words in _FIELDS_FILE["type_words"].items() for word in words.split()
}
LAST_WORD: dict[str, frozenset[str]] = {type_: _words(words) for type_, words in _FIELDS_FILE["last_word"].items()}
# last word -> (minimum, maximum) of a numeric field
BOUNDS: dict[str, tuple[int | None, int | None]] = {
    word: (group.get("minimum"), group.get("maximum"))
    for group in _FIELDS_FILE["bounds"]
    for word in group["words"].split()
}
_lengths = _FIELDS_FILE["lengths"]
NAME_LIKE = _words(_lengths["name_like"])
NAME_MAX: int = _lengths["name_max"]
MAX_LENGTHS: dict[str, int] = {
    "string": _lengths["string_max"],
    "email": _lengths["email_max"],
    "url": _lengths["url_max"],
}
_unique = _FIELDS_FILE["unique"]
UNIQUE_FIELDS = _words(_unique["fields"])
UNIQUE_NOUN_FIELDS = _words(_unique["noun_fields"])
PEOPLE = _words(_unique["people"])
ENUMS: dict[str, list[str]] = dict(_FIELDS_FILE["enums"])
