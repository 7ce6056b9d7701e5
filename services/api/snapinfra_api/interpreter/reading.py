"""Reading a prompt: one left-to-right pass that finds the entities it names and the fields it lists.

- "manage / track / store / CRUD for <nouns>", "<noun> management", "entities: <nouns>"
- "an API / app / blog ... with / for <nouns>" (unknown nouns there only when plural)
- "<noun> with <field>, <field> and <field>", "<noun> (<field>, <field>)"

Known nouns (nouns.toml) count anywhere in the prompt; unknown ones only in those positions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from snapinfra_api.interpreter.fields import ENTITY_NAME, MAX_FIELDS, field_name, field_type
from snapinfra_api.interpreter.vocabulary import (
    COLLECTIVES,
    COMMANDS,
    CONTAINER_LINKS,
    CONTAINERS,
    CRUD_WORDS,
    DECLARE,
    DOMAINS,
    FIELD_FILLER,
    FIELD_OPENERS,
    FIELD_STARTS,
    FUNCTION,
    HAS,
    LINK_WORDS,
    MARKERS,
    MODALS,
    NOT_A_LIBRARY,
    NOT_FIELDS,
    OBJECT_STARTS,
    OF_LISTS,
    SEPARATORS,
    SKIP,
    STORE_BEFORE,
    STRONG_STOPS,
    SUFFIX_TRIGGERS,
    TYPE_WORDS,
    VERB_TRIGGERS,
    VERBISH,
    WEAK,
    WEAK_STOPS,
)
from snapinfra_api.interpreter.words import SENTENCE_ENDS, Token, compound_key, is_noun_like, noun_key, pascal, singular
from snapinfra_shared.spec import FieldType


@dataclass
class Item:
    """A field named in the prompt; `ref` becomes "<ref>_id" if an entity of that name exists."""

    name: str
    type: FieldType | None
    required: bool
    ref: str | None


@dataclass
class Draft:
    name: str
    key: str | None  # vocabulary noun, None for a noun the vocabulary does not know
    items: list[Item] = field(default_factory=list)


@dataclass
class Items:
    """The field list being read for an owner."""

    owner: Draft
    # Plurals in order, as (entity name, vocabulary key, the field it is otherwise): known ones are entities
    # ("posts with title and comments"); unknown ones too when beside those or with no field beside them.
    collections: list[tuple[str, str | None, Item | None]] = field(default_factory=list)
    fields: int = 0  # fields that are not plurals


@dataclass
class Candidate:
    name: str
    key: str | None
    # An unknown noun kept only beside a noun that is not tentative: "movies and actors" (no trigger) or
    # "an app with spaceships and crew" (a singular after a container).
    tentative: bool = False


class Reader:
    """One left-to-right pass over the tokens, collecting entity drafts in the order they are mentioned."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.drafts: dict[str, Draft] = {}
        self.carry: tuple[int, str] | None = None  # (token index, trigger) for a list resumed after fields

    def text(self, k: int) -> str:
        return self.tokens[k].text if 0 <= k < len(self.tokens) else ""

    def word(self, k: int) -> str:
        """The token's text if it is a plain word, else ""."""
        return self.tokens[k].text if 0 <= k < len(self.tokens) and self.tokens[k].kind == "word" else ""

    def is_content(self, k: int) -> bool:
        return bool(self.word(k)) and is_noun_like(self.word(k))

    def glued(self, k: int) -> bool:
        return 0 <= k < len(self.tokens) and self.tokens[k].glued

    def is_skip(self, k: int) -> bool:
        if not 0 <= k < len(self.tokens):
            return False
        token = self.tokens[k]
        return token.kind == "opaque" or (token.kind == "word" and (token.text in SKIP or token.text.isdigit()))

    def back(self, k: int, also: frozenset[str] = frozenset()) -> int:
        """The index of the first token at or before k that is not skippable (or in `also`)."""
        for _ in range(8):
            if not (self.is_skip(k) or self.text(k) in also):
                break
            k -= 1
        return k

    def add(self, name: str, key: str | None) -> Draft:
        if name not in self.drafts:
            self.drafts[name] = Draft(name, key)
        return self.drafts[name]

    def read(self) -> None:
        k = 0
        while k < len(self.tokens):
            k = self.read_list(k) if self.is_content(k) else k + 1

    def read_list(self, start: int) -> int:
        """Reads "<noun>, <noun> and <noun>" from start, adds the entities it names, returns where it ends."""
        phrases: list[tuple[int, int]] = []
        k = start
        while True:
            begin = k
            while self.is_content(k):
                k += 1
            phrases.append((begin, k))
            m, separated = k, False
            while self.text(m) in SEPARATORS or self.is_skip(m):
                separated = separated or self.text(m) in SEPARATORS
                m += 1
            if not (separated and self.is_content(m)):
                break
            k = m
        trigger = self.carry[1] if self.carry and self.carry[0] == start else self.trigger_before(start)
        self.carry = None
        if trigger is None and self.word(k) in SUFFIX_TRIGGERS:
            trigger = "suffix"
        per_phrase = [self.phrase_candidates(b, e, trigger) for b, e in phrases]
        if not any(not c.tentative for cs in per_phrase for c in cs):
            per_phrase = [[] for _ in phrases]
        if trigger is None and len(phrases) == 1:
            label = self.text(k) == ":" and self.label_before(k)
            if label or not per_phrase[-1]:  # "User: email, name", "spaceships with name and speed"
                declared = self.read_declaration(start, k)
                if declared is not None:
                    return declared
                last = self.text(k - 1)
                if label and singular(last) == last:  # "Note: ...", "Task: ..." are labels, not entities
                    return k
        head: Draft | None = None
        for candidates in per_phrase:
            head = None
            for candidate in candidates:
                head = self.add(candidate.name, candidate.key)
        if head is None:
            return k
        return self.read_fields(k + 1 if self.word(k) in DECLARE else k, head, trigger)

    def read_declaration(self, begin: int, end: int) -> int | None:
        """A noun given at least two fields: "spaceships with name and speed", "a pilot with name and rank",
        "Pilot (name, rank)", "User: email, name"."""
        head = self.text(end - 1)
        opener = self.text(end)
        key = compound_key(self.text(begin), head) if end - begin == 2 else noun_key(head)
        named = singular(head) != head or (self.after_article(end - 1) and key not in WEAK)  # "a spaceship with"
        if end - begin > 2 or not (opener in ("(", ":") or (named and opener in FIELD_OPENERS | HAS)):
            return None
        words = key.split() if key else [self.text(k) for k in range(begin, end - 1)] + [singular(head)]
        name = pascal(words)
        start = self.field_list_start(end)
        if start is None or not ENTITY_NAME.fullmatch(name):
            return None
        trial = Draft(name, key)
        stop, _, entities = self.read_items(start, trial, in_parens=opener == "(")
        if len(trial.items) < 2 or len(entities) >= len(trial.items):  # "hotel booking: hotels, rooms, guests"
            return None
        self.add(name, key).items.extend(trial.items)
        for entity, entity_key in entities:
            self.add(entity, entity_key)
        return stop

    def trigger_before(self, start: int) -> str | None:
        """What puts the nouns at start in a structural position: "verb", "container", "declare" or None."""
        k = self.back(start - 1)
        before = self.text(k)
        if self.word(k) in VERB_TRIGGERS:
            return "verb"
        if before in DECLARE:
            return "declare"
        if before in HAS and self.text(k - 1) in ("that", "which"):
            k, before = k - 1, "with"
        prev = self.text(self.back(k - 1, CRUD_WORDS - {"crud"}))
        if before in ("for", "of", "on", "over") and (prev in CRUD_WORDS or self.text(k - 1) in CRUD_WORDS):
            return "verb"
        if before == "of" and prev in OF_LISTS:
            return "verb"
        if before in (":", "like", "as", "including") and (prev in DECLARE or prev == "following"):
            return "declare"
        if before in ("is", "are") and prev in DECLARE:  # "the main entity is a Spaceship"
            return "declare"
        if before in CONTAINER_LINKS or before == ":":
            prev = self.text(self.back(k - 1))
            if prev in CONTAINERS or prev in DECLARE:
                return "container"
        if before in LINK_WORDS:  # "students and clubs via memberships"
            return "verb"
        if before == ":" and self.label_before(k):  # "insurance: policies, policyholders and claims"
            return "container"
        if before in FIELD_OPENERS and self.after_article(k - 1):
            return "container"  # "a kanban board with boards, columns and cards"
        return None

    def label_before(self, colon: int) -> bool:
        """Whether the colon at `colon` ends a short label opening a sentence: "hotel booking:"."""
        k = colon - 1
        while k >= 0 and self.text(k) not in SENTENCE_ENDS and colon - k <= 4:
            k -= 1
        return k < 0 or self.text(k) in SENTENCE_ENDS

    def read_plural_lists(self) -> None:
        """When nothing else names an entity: a bare list of two or more plurals, "parents and children"."""
        k = 0
        while k < len(self.tokens):
            run: list[int] = []
            m = k
            while self.is_content(m) and not self.is_content(m + 1) and singular(self.word(m)) != self.word(m):
                run.append(m)
                m += 1
                while self.text(m) in SEPARATORS or self.is_skip(m):
                    m += 1
            if len(run) >= 2:
                for at in run:
                    self.add(pascal([singular(self.word(at))]), noun_key(self.word(at)))
            k = max(m, k + 1)

    def after_article(self, k: int) -> bool:
        """Whether the words ending at k follow "a" or "an": "a kanban board"."""
        for _ in range(3):
            if not self.is_content(k):
                break
            k -= 1
        return self.text(k) in ("a", "an")

    def phrase_candidates(self, begin: int, end: int, trigger: str | None) -> list[Candidate]:
        """The entities a run of nouns names: its known nouns, and an unknown head (with one modifier)."""
        units: list[tuple[str | None, int, int]] = []  # (vocabulary key, first token, last token + 1)
        k = begin
        while k < end:
            compound = compound_key(self.text(k), self.text(k + 1)) if k + 1 < end else None
            if compound:
                units.append((compound, k, k + 2))
                k += 2
            else:
                units.append((noun_key(self.text(k)), k, k + 1))
                k += 1
        candidates: list[Candidate] = []
        head_key, head_begin, head_end = units.pop()
        head = self.text(head_end - 1)
        plural = singular(head) != head
        unknown_head: Candidate | None = None
        if head_key is None and (trigger is not None or plural):
            words = [singular(head)]
            if units and units[-1][2] - units[-1][1] == 1 and (trigger is not None or units[-1][0] is None):
                words.insert(0, self.text(units.pop()[1]))
            name = pascal(words)
            # Without a trigger, an unknown plural counts only beside a known noun: "movies and actors".
            tentative = trigger is None or (trigger == "container" and not plural)
            if ENTITY_NAME.fullmatch(name):
                unknown_head = Candidate(name, None, tentative=tentative)
        for key, first, _ in units:
            if key is not None and key not in WEAK and not self.used_as_verb(first, trigger, modifier=True):
                candidates.append(Candidate(pascal(key.split()), key))
        if unknown_head is not None:
            candidates.append(unknown_head)
        elif head_key is not None and (head_key not in WEAK or plural or trigger == "suffix"):
            alone = not units and head_end - head_begin == 1
            if not (alone and self.used_as_verb(head_begin, trigger, modifier=False)):
                candidates.append(Candidate(pascal(head_key.split()), head_key))
        return candidates

    def used_as_verb(self, k: int, trigger: str | None, *, modifier: bool) -> bool:
        """Whether a noun that is also a verb is used as one ("to book a room", "post comments")."""
        word = self.text(k)
        if word not in VERBISH:
            return False
        plural = [singular(w) != w for w in (self.text(k - 1), self.text(k + 1))]
        if modifier and self.is_content(k - 1) and all(plural):  # "companies post jobs": between two plurals
            return True
        if trigger is not None:
            return False
        if modifier:  # "book events", "contact details": a singular verb before a plural
            following = self.text(k + 1)
            return singular(following) != following
        return self.text(k - 1) in MODALS or self.text(k + 1) in OBJECT_STARTS

    # --- fields --------------------------------------------------------------------------------------------

    def field_list_start(self, k: int) -> int | None:
        """Where a field list after an entity begins ("with a, b", "(a, b)", ": a, b", "that has a, b")."""
        opener = self.text(k)
        if opener in ("(", ":") or opener in FIELD_OPENERS:
            k += 1
        elif opener in ("that", "which", "who") and self.text(k + 1) in HAS:
            k += 2
        elif opener in HAS:
            k += 1
        else:
            return None
        for _ in range(6):
            if not (self.is_skip(k) or self.text(k) in FIELD_FILLER or self.text(k) == ":"):
                break
            k += 1
        return k

    def annotation(self, k: int) -> tuple[int, FieldType | None, bool | None] | None:
        """A type or marker after a field name: ": integer", "(number)", "(optional)", "as date"."""
        opener = self.text(k)
        if opener in (":", "as") and self.text(k + 1) in TYPE_WORDS:
            return 2, TYPE_WORDS[self.text(k + 1)], None
        if opener != "(":
            return None
        type_: FieldType | None = None
        required: bool | None = None
        for m in range(k + 1, k + 6):
            word = self.text(m)
            if word == ")":
                return (m - k + 1, type_, required) if m > k + 1 else None
            if word in TYPE_WORDS:
                type_ = TYPE_WORDS[word]
            elif word in MARKERS:
                required = MARKERS[word] if MARKERS[word] is not None else required
            elif word not in (",", "and"):
                return None
        return None

    def starts_declaration(self, k: int) -> bool:
        """Whether an item of a field list is really the next entity: "..., and pilots with name and rank"."""
        end = k
        while self.is_content(end) and end - k < 4:
            end += 1
        after = self.text(end)
        if end == k or after not in ("with", "having", "(", ":") or self.annotation(end) is not None:
            return False
        last = self.text(end - 1)
        return after in ("(", ":") or noun_key(last) is not None or singular(last) != last

    def read_fields(self, k: int, owner: Draft, trigger: str | None) -> int:
        start = self.field_list_start(k)
        if start is None:
            return k
        in_parens = self.text(k) == "("
        end, declaration_next, entities = self.read_items(start, owner, in_parens=in_parens)
        for name, key in entities:
            self.add(name, key)
        if trigger and (in_parens or declaration_next):
            m = end
            while self.text(m) in SEPARATORS or self.is_skip(m):
                m += 1
            if self.is_content(m):
                self.carry = (m, trigger)
        return end

    def read_items(self, k: int, owner: Draft, *, in_parens: bool) -> tuple[int, bool, list[tuple[str, str | None]]]:
        """Reads "a, b (integer) and optional c" into owner's items; returns where it ends, whether the next
        entity's declaration follows, and the entities named in it."""
        items = Items(owner)
        words: list[str] = []
        type_: FieldType | None = None
        required = True
        declaration_next = False
        item_start = k
        while k < len(self.tokens):
            token = self.tokens[k]
            if not words:
                item_start = k
            if in_parens and token.text == ")":
                k += 1
                break
            if self.glued(k + 1) or (words and token.glued):  # in_stock, inStock: one name whatever its words
                chain = k + 1
                while self.glued(chain):
                    chain += 1
                words.extend(self.text(m) for m in range(k, chain))
                k = chain
                continue
            if token.text in SEPARATORS and token.kind in ("word", "punct"):
                self.add_item(items, words, type_, required)
                words, type_, required = [], None, True
                k += 1
                continue
            note = self.annotation(k) if words else None
            if note is not None:
                k += note[0]
                type_ = note[1] or type_
                required = required if note[2] is None else note[2]
                continue
            if token.kind == "punct":
                break
            if not words:
                if token.text in MARKERS:
                    required = MARKERS[token.text] is not False
                    k += 1
                    continue
                if self.is_skip(k):
                    k += 1
                    continue
                if (
                    token.text in STRONG_STOPS
                    or token.text in COMMANDS
                    or (token.text in FUNCTION and token.text not in FIELD_STARTS)
                ):
                    break
                if self.starts_declaration(k):
                    declaration_next = True
                    break
            elif token.text in STRONG_STOPS or token.text in WEAK_STOPS:
                break
            words.append(token.text)
            k += 1
            if len(words) > 4:  # a sentence, not a field: read on from its start
                words, k = [], item_start
                break
        self.add_item(items, words, type_, required)
        return k, declaration_next, self.settle(items)

    def add_item(self, items: Items, words: list[str], type_: FieldType | None, required: bool) -> None:
        owner = items.owner
        if len(words) > 2 and words[0] in COLLECTIVES and words[1] == "of":  # "a list of attendees"
            words = words[2:]
        if not words or all(w in NOT_FIELDS for w in words) or len(owner.items) >= MAX_FIELDS:
            return
        key = compound_key(words[0], words[1]) if len(words) == 2 else noun_key(words[0]) if len(words) == 1 else None
        last = words[-1]
        name = field_name(words)
        collection = type_ is None and singular(last) != last and field_type(name or "") == "string"
        if collection and len(words) == 1 and owner.key and " " not in owner.key:
            key = compound_key(owner.key, last) or key  # "orders with items": OrderItem
        if collection and key is not None:
            items.collections.append((pascal(key.split()), key, None))
            return
        if name is None or any(item.name == name for item in owner.items):
            return
        ref = None
        if type_ is None and field_type(name) == "string" and len(words) <= 2:
            ref = pascal(key.split()) if key else pascal([*words[:-1], singular(last)])
        item = Item(name, type_, required, ref)
        owner.items.append(item)
        if collection and ref is not None and ENTITY_NAME.fullmatch(ref) and all(w.isalpha() for w in words):
            items.collections.append((ref, None, item))
        else:
            items.fields += 1

    @staticmethod
    def settle(items: Items) -> list[tuple[str, str | None]]:
        """The entities a field list names: "a game with players and matches", "spaceships with pilots"."""
        known = any(item is None for _, _, item in items.collections)
        entities = []
        for name, key, item in items.collections:
            if item is None or known or not items.fields:
                entities.append((name, key))
                if item is not None:
                    items.owner.items.remove(item)
        return entities

    # --- relations and fallbacks ------------------------------------------------------------------------

    def apply_domain(self) -> None:
        """ "a blog", "a library management system": the usual entities of the application named."""
        texts = [t.text for t in self.tokens if t.kind == "word"]
        for i, word in enumerate(texts):
            if word not in DOMAINS:
                continue
            if word == "library" and NOT_A_LIBRARY.intersection(texts):
                continue
            if word == "store" and (i == 0 or texts[i - 1] not in STORE_BEFORE):
                continue
            for key in DOMAINS[word]:
                self.add(pascal(key.split()), key)
            return
