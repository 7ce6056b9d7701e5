"""Words and tokens: singular forms, vocabulary look-ups, names, and the tokenizer."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from snapinfra_api.interpreter.vocabulary import (
    ALIASES,
    DOMAINS,
    GENERIC_PAIRS,
    INVARIANT,
    IRREGULAR,
    NOT_ENTITIES,
    NOUNS,
    VOCAB,
)


def singular(word: str) -> str:
    if word in IRREGULAR:
        return IRREGULAR[word]
    if word in INVARIANT or len(word) <= 3 or word in NOUNS:
        return word
    candidates = [word[:-1]] if word.endswith("s") else []
    if word.endswith("es"):
        candidates.insert(0, word[:-2])
    if word.endswith("ies"):
        candidates.insert(0, word[:-3] + "y")
    for candidate in candidates:
        if candidate in NOUNS:
            return candidate
    if word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes", "zzes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") else word


def noun_key(word: str) -> str | None:
    """The vocabulary noun a word (singular or plural) stands for, if any."""
    one = singular(word)
    if one in VOCAB:
        return one
    return ALIASES.get(one)


def compound_key(first: str, second: str) -> str | None:
    phrase = f"{first} {singular(second)}"
    if phrase in VOCAB:
        return phrase
    return ALIASES.get(phrase)


def pascal(words: list[str]) -> str:
    return "".join(w[:1].upper() + w[1:] for w in words)


def snake(entity_name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(entity_name))


# --- Tokens ----------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['\-][A-Za-z0-9]+)*|[,.;:!?()&/+]")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
SENTENCE_ENDS = frozenset(".;:!?()")


@dataclass(frozen=True, slots=True)
class Token:
    text: str  # lower case
    kind: str  # "word", "punct", "opaque" (an unknown hyphenated compound) or "stop" (part of a generic pair)
    glued: bool = False  # continues the previous token's identifier: the "stock" of in_stock or inStock


def ascii(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c if c.isascii() else ("" if unicodedata.combining(c) else " ") for c in decomposed)


def is_known_word(word: str) -> bool:
    return word in NOT_ENTITIES or word in DOMAINS or noun_key(word) is not None


def _plural(noun: str) -> str:
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "o", "u"):
        return noun[:-1] + "ies"
    return noun + "es" if noun.endswith(("s", "x", "z", "ch", "sh")) else noun + "s"


def _one_edit(a: str, b: str) -> bool:
    """Whether b is a with one letter added, dropped, changed, or two neighbours swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) < len(b):
        return a[i:] == b[i + 1 :]
    swapped = i + 1 < len(a) and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]
    return a[i + 1 :] == b[i + 1 :] or swapped


_FORMS: dict[str, list[str]] = {}
for _noun in sorted(NOUNS):
    if " " not in _noun:
        for _form in (_noun, _plural(_noun)):
            _FORMS.setdefault(_form[0], []).append(_form)


@lru_cache(maxsize=4096)
def corrected(word: str) -> str:
    """A misspelt known noun, spelt right ("custmers" -> "customers", "ordres" -> "orders"); else the word.

    Without a dictionary a real word one edit from a noun ("plants", "plans") cannot be told from a typo, so
    only two neighbours swapped count in short words, and any one edit only from seven letters on."""
    if len(word) < 5 or not word.isalpha() or is_known_word(word) or word.endswith(("ed", "ing", "ly")):
        return word  # "published" is a word of its own, not "publisher" misspelt
    for form in _FORMS.get(word[0], ()):
        if _one_edit(word, form) and (len(word) >= 7 or (len(form) == len(word) and sorted(form) == sorted(word))):
            return form
    return word


def tokenize(prompt: str) -> list[Token]:
    tokens: list[Token] = []
    text = ascii(prompt)
    end = -1
    for match in _TOKEN.finditer(text):
        raw = match.group()
        glued = match.start() == end + 1 and text[end] == "_"
        end = match.end()
        if not raw[0].isalnum():
            tokens.append(Token(raw, "punct"))
            continue
        raw = raw.split("'")[0]  # user's -> user, don't -> don
        lower = raw.lower()
        if "-" in raw:
            parts = lower.split("-")
            if is_known_word("".join(parts)):
                tokens.append(Token("".join(parts), "word", glued))
            elif len(parts) == 2 and compound_key(*parts):
                tokens.extend(Token(p, "word", glued and not i) for i, p in enumerate(parts))
            else:
                tokens.append(Token("_".join(parts), "opaque", glued))
        elif is_known_word(lower) or not _CAMEL.search(raw):
            tokens.append(Token(corrected(lower), "word", glued))
        else:  # BlogPost, orderItems
            pieces = [p.lower() for p in _CAMEL.split(raw) if p]
            tokens.extend(Token(p, "word", glued or i > 0) for i, p in enumerate(pieces))
    for i in range(len(tokens) - 1):
        first, second = tokens[i], tokens[i + 1]
        if first.kind == second.kind == "word" and (first.text, singular(second.text)) in GENERIC_PAIRS:
            tokens[i] = Token(first.text, "stop", first.glued)
            tokens[i + 1] = Token(second.text, "stop", second.glued)
    return tokens


_NOT_ENTITY_STEMS = NOT_ENTITIES - frozenset(DOMAINS)
_ADVERB_ENDINGS = ("ally", "ely", "tly", "ously", "ively", "ably", "ibly", "fully", "ckly", "rly", "nly", "dly")


def is_noun_like(word: str) -> bool:
    """Whether an entity may be named by this word."""
    if word in DOMAINS:
        return False
    if noun_key(word) is not None:
        return True
    if word in NOT_ENTITIES or singular(word) in _NOT_ENTITY_STEMS:  # "codes", but "libraries" is fine
        return False
    if not (3 <= len(word) <= 30) or not word[0].isalpha() or not word.isalnum():
        return False
    if word.endswith(_ADVERB_ENDINGS) or (word.endswith("ing") and len(word) > 4):
        return False
    return not (word.endswith("ed") and not word.endswith("eed") and len(word) > 4)
