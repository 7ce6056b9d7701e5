"""Infer a ProjectSpec from a free-text prompt, for requests that come without a `spec`.

Deterministic, offline and linear in the prompt's length: a tokenizer, a vocabulary of common domain
nouns with typed fields, and a few structural patterns that also admit nouns the vocabulary does not know:

- "manage / track / store / CRUD for <nouns>", "<noun> management", "entities: <nouns>"
- "an API / app / blog ... with / for <nouns>" (unknown nouns there only when plural)
- "<noun> with <field>, <field> and <field>", "<noun> (<field>, <field>)"
- "<noun> belongs to <noun>", "<noun> has many <nouns>"

Known nouns count anywhere in the prompt; unknown ones only in those positions. A prompt that names nothing
to store raises UninterpretablePrompt, whose message is meant for the user.
"""

from __future__ import annotations

import keyword
import re
import unicodedata
from dataclasses import dataclass, field

from snapinfra_shared.naming import clashes
from snapinfra_shared.spec import RESERVED_FIELD_NAMES, EntitySpec, FieldSpec, FieldType, ProjectSpec

MAX_ENTITIES = 20
MAX_FIELDS = 50

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
    reader = _Reader(_tokenize(prompt))
    reader.read()
    if not reader.drafts:
        reader.apply_domain()
    if not reader.drafts:
        raise UninterpretablePrompt(NOTHING_TO_STORE)
    reader.read_relations()
    return _build(list(reader.drafts.values())[:MAX_ENTITIES])


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _pairs_list(text: str) -> list[str]:
    return [pair.strip() for pair in text.split(",")]


def _pairs(text: str) -> dict[str, str]:
    """ "a=b, c d=e" -> {"a": "b", "c d": "e"}"""
    return dict(pair.split("=", 1) for pair in _pairs_list(text))


# --- Vocabulary -------------------------------------------------------------------------------------------
# noun -> (fields, references). Fields: names typed by _field_type unless "name:type"; "?" marks optional.
# References: groups of alternatives ("customer|user"); the first one present becomes "<name>_id"; "_" joins
# the words of a two-word noun.

_VOCAB: dict[str, tuple[str, str]] = {
    "user": ("email name role? is_active", ""),
    "customer": ("name email phone? address?", ""),
    "client": ("name email phone? company?", ""),
    "person": ("first_name last_name email? birth_date?", ""),
    "account": ("name email? balance? is_active", "customer|client|user?"),
    "profile": ("display_name bio? avatar_url?", "user"),
    "address": ("street city postal_code country", "customer|client|person|user|contact?"),
    "contact": ("name email phone? company?", "company|organization?"),
    "company": ("name website? industry?", ""),
    "organization": ("name website?", ""),
    "supplier": ("name email phone?", ""),
    "vendor": ("name email phone?", ""),
    "brand": ("name", ""),
    "product": ("name description? price sku? stock", "category? brand|supplier|vendor?"),
    "category": ("name description?", ""),
    "tag": ("name", ""),
    "order": ("status total", "customer|client|user"),
    "order item": ("quantity unit_price", "order product|menu_item?"),
    "line item": ("description? quantity unit_price", "invoice|order product?"),
    "cart": ("status", "customer|user"),
    "cart item": ("quantity", "cart product"),
    "invoice": ("number amount due_date status paid_at?", "customer|client|user order?"),
    "payment": ("amount currency method status paid_at?", "order|invoice|booking|reservation|subscription?"),
    "transaction": ("amount currency? description? occurred_at", "account?"),
    "subscription": ("status starts_at ends_at?", "customer|client|user plan?"),
    "plan": ("name price interval?", ""),
    "coupon": ("code discount_percent expires_at?", ""),
    "shipment": ("carrier? tracking_number status shipped_at? delivered_at?", "order"),
    "delivery": ("address status delivered_at?", "order"),
    "warehouse": ("name location", ""),
    "inventory item": ("name sku? quantity location?", "product? warehouse?"),
    "post": ("title body published", "author|user?"),
    "comment": ("body", "post|article|task|ticket|issue|photo|video|recipe|event user?"),
    "article": ("title body summary? published", "author|user? category?"),
    "page": ("title slug content", ""),
    "author": ("name bio?", ""),
    "book": ("title isbn? published_year? price?", "author? genre|category?"),
    "genre": ("name", ""),
    "review": ("rating comment?", "product|book|movie|restaurant|recipe|hotel|course|game|album customer|user?"),
    "task": ("title description? status priority? due_date? completed", "project user?"),
    "todo": ("title completed due_date?", "user?"),
    "project": ("name description? status? start_date? end_date?", "team|client|customer?"),
    "milestone": ("title due_date?", "project"),
    "sprint": ("name start_date end_date", "project"),
    "issue": ("title description? status priority?", "project? user?"),
    "bug": ("title description? severity status", "project?"),
    "team": ("name description?", ""),
    "member": ("name email role?", "team|group|organization?"),
    "employee": ("first_name last_name email job_title? hire_date? salary?", "department|team?"),
    "department": ("name description?", ""),
    "event": ("title description? location? starts_at ends_at?", "venue?"),
    "venue": ("name address capacity?", ""),
    "attendee": ("name email", "event"),
    "ticket": ("title description? status priority?", "event? customer|user?"),
    "booking": ("starts_at ends_at status", "customer|guest|client|user room|event|venue|vehicle|flight|property?"),
    "reservation": ("starts_at ends_at status", "customer|guest|client|user room|event|venue|restaurant|flight?"),
    "appointment": ("starts_at ends_at? status notes?", "patient|customer|client|user doctor|employee?"),
    "patient": ("first_name last_name birth_date email?", ""),
    "doctor": ("name specialty email?", ""),
    "hotel": ("name address stars?", ""),
    "room": ("name capacity price?", "hotel?"),
    "guest": ("name email phone?", ""),
    "student": ("first_name last_name email", ""),
    "teacher": ("name email subject?", ""),
    "course": ("title description? credits?", "teacher?"),
    "enrollment": ("status enrolled_at?", "student course"),
    "lesson": ("title content?", "course"),
    "quiz": ("title description?", "course?"),
    "question": ("title body?", "quiz|survey? user?"),
    "answer": ("body is_accepted?", "question user?"),
    "survey": ("title description?", ""),
    "message": ("body is_read", "conversation|channel? user?"),
    "conversation": ("title?", ""),
    "channel": ("name description?", ""),
    "notification": ("title body? is_read", "user?"),
    "role": ("name description?", ""),
    "permission": ("name description?", ""),
    "group": ("name description?", ""),
    "photo": ("title? url", "album? user?"),
    "image": ("url alt_text?", ""),
    "video": ("title url duration_seconds?", ""),
    "album": ("title release_date?", "artist?"),
    "artist": ("name bio?", ""),
    "song": ("title duration_seconds?", "album|artist?"),
    "playlist": ("name description?", "user?"),
    "movie": ("title release_year? genre? duration_minutes?", ""),
    "recipe": ("title description? instructions servings?", ""),
    "ingredient": ("name quantity? unit?", "recipe?"),
    "restaurant": ("name address cuisine?", ""),
    "menu item": ("name description? price", "restaurant?"),
    "vehicle": ("make model year license_plate?", ""),
    "driver": ("name license_number phone?", "vehicle?"),
    "trip": ("origin destination departs_at? arrives_at?", "vehicle? driver?"),
    "flight": ("flight_number origin destination departs_at arrives_at", ""),
    "passenger": ("name email?", "flight?"),
    "note": ("title content", "user?"),
    "document": ("title content? url?", "folder?"),
    "folder": ("name", ""),
    "file": ("name url size_bytes?", "folder?"),
    "expense": ("amount description? spent_at", "category? user?"),
    "budget": ("name amount start_date? end_date?", ""),
    "goal": ("title target_date? achieved", ""),
    "habit": ("name frequency? is_active", ""),
    "workout": ("name performed_at duration_minutes?", "user?"),
    "exercise": ("name sets? reps?", "workout?"),
    "pet": ("name species breed? birth_date?", "customer|client|person?"),
    "property": ("address price? bedrooms?", ""),
    "tenant": ("name email phone?", ""),
    "lease": ("start_date end_date rent", "tenant property"),
    "listing": ("title description? price", "property?"),
    "device": ("name serial_number? status?", ""),
    "sensor": ("name kind location?", "device?"),
    "measurement": ("value recorded_at", "sensor|device"),
    "game": ("title genre?", ""),
    "player": ("name email? score?", "team?"),
    "job": ("title description? salary? location?", "company|organization?"),
    "candidate": ("name email resume_url?", "job?"),
    "loan": ("borrowed_at due_date returned_at?", "book? member|customer|student|user?"),
    "location": ("name address latitude? longitude?", ""),
    "city": ("name country", ""),
    "country": ("name code", ""),
    "skill": ("name level?", ""),
    "feedback": ("message rating?", "user?"),
    "meeting": ("title starts_at ends_at? location?", ""),
    "setting": ("key value:string", "user?"),
    "item": ("name description? quantity?", ""),
    "deal": ("title amount stage close_date?", "contact|company|customer?"),
    "lead": ("name email status source?", ""),
    "campaign": ("name status starts_at? ends_at? budget?", ""),
    "subscriber": ("email name?", ""),
    "bookmark": ("title url", "user?"),
    "contract": ("title start_date end_date value?", "customer|client|company?"),
    "asset": ("name serial_number? status?", ""),
}
_ALIASES = _pairs(
    "blog post=post, blogpost=post, staff member=employee, team member=member, support ticket=ticket, todo item=todo, "
    "purchase order=order, sales order=order, product category=category, inventory=inventory item, "
    "stock item=inventory item, dish=menu item, meeting room=room, picture=photo, staff=employee, worker=employee, "
    "pupil=student, instructor=teacher, professor=teacher, physician=doctor, organisation=organization"
)
# Nouns that may be verbs ("to book a room", "users can post"); nouns too vague to stand alone when singular.
_VERBISH = _words(
    "order book post comment review message contact lead note issue plan question answer tag address document "
    "file invoice budget lease exercise bookmark contract"
)
_WEAK = frozenset({"project", "item", "page", "file"})
# Singular words that name a whole application; when nothing else is found they stand for typical entities.
_DOMAINS: dict[str, tuple[str, ...]] = {
    "blog": ("post", "comment"),
    "ecommerce": ("customer", "product", "order", "order item"),
    "commerce": ("customer", "product", "order", "order item"),
    "shop": ("customer", "product", "order", "order item"),
    "webshop": ("customer", "product", "order", "order item"),
    "store": ("customer", "product", "order", "order item"),
    "library": ("book", "author", "member", "loan"),
    "crm": ("contact", "company", "deal"),
    "helpdesk": ("customer", "ticket", "comment"),
    "forum": ("user", "post", "comment"),
    "chat": ("user", "conversation", "message"),
    "school": ("student", "teacher", "course", "enrollment"),
    "hotel": ("room", "guest", "reservation"),
    "restaurant": ("menu item", "order", "reservation"),
    "clinic": ("patient", "doctor", "appointment"),
    "hospital": ("patient", "doctor", "appointment"),
    "bank": ("customer", "account", "transaction"),
}
_NOT_A_LIBRARY = _words(
    "python javascript js typescript java npm pip package sdk module client parsing parser json component ui "
    "utility helper function functions code"
)
_STORE_BEFORE = frozenset({"a", "an", "the", "my", "our", "online", "web", "e"})


# Skippable between a trigger and its nouns, never an entity: determiners, quantifiers, plain adjectives.
_SKIP = _words(
    "a an the my our your their his her its this these those some any all each every both either many much "
    "multiple several various different other another more most few lots lot also just only even new old own "
    "simple basic small large big little great good nice cool awesome modern clean secure fast quick scalable "
    "robust full complete entire whole single main custom personal public private related available existing "
    "upcoming recent favorite favourite daily weekly monthly yearly annual online digital virtual local real "
    "sample dummy fake demo example certain specific given respective corresponding associated"
)
_FUNCTION = _words(
    "about above after again against am are as at be because been before being below between but by can cannot "
    "could did do does doing done down during for from further had has have having he here hers herself him "
    "himself how i if in into is it itself me must myself nor not of off on once or ought out over same shall "
    "she should so such than that then there they through to too under until up upon very was we were what when "
    "where which while who whom why will with within without would you yourself yourselves via per using like "
    "etc eg ie vs don doesn isn aren won wouldn shouldn couldn didn ll ve re im let lets them us one two three "
    "no yes yeah ok okay sure hello hi hey thanks thank please world foo bar baz qux lorem ipsum"
)
_VERBS = _words(
    "create creates build builds make makes generate generates write writes implement implements develop design "
    "set setup get gets add adds allow allows enable enables provide provides include includes contain contains "
    "expose exposes return returns view views see show shows update updates delete deletes read reads edit "
    "remove modify change fetch retrieve query search find sort filter paginate validate load send sends receive "
    "run runs deploy host serve work works go want wants need needs use uses used assign assigns pay pays place "
    "places cancel approve reject rate follow follows share upload uploads download invite join leave list login "
    "logout signup register subscribe check checkout publish mark complete finish start stop notify export "
    "import calculate compute process integrate connect sync print display hide attach verify confirm accept "
    "decline pick choose select buy sell reserve belong belongs own owns hold holds keep keeps help try ask "
    "tell know think give take put come able easy hard easily likely early"
)
_GENERIC = _words(
    "api apis rest restful http https json xml yaml csv app apps application applications service services "
    "microservice microservices backend backends frontend system systems data dataset database databases db "
    "endpoint endpoints route routes code codebase thing things stuff something anything everything info "
    "information way ways kind field fields attribute attributes key keys id ids uuid uuids "
    "function functions method methods object objects operation operations feature features functionality logic "
    "layer module modules package sdk cli script scripts tool tools website site web webapp server servers "
    "platform interface ui ux dashboard portal program software solution version mvp prototype template "
    "boilerplate scaffold example management manager handling handler tracking tracker admin administration "
    "panel access crud password passwords token tokens session sessions cache caches error errors exception "
    "exceptions health healthcheck ping python flask django fastapi node nodejs express javascript js "
    "typescript ts java spring springboot go golang rust ruby rails php laravel dotnet csharp kotlin swift react "
    "vue angular nextjs nestjs sql nosql postgres postgresql mysql sqlite mongo mongodb dynamodb redis kafka "
    "rabbitmq sqs sns s3 aws gcp azure lambda lambdas docker dockerfile kubernetes k8s terraform cloudformation "
    "cdk cloud serverless infrastructure infra deployment deployments production prod dev staging ci cd "
    "pipeline github git gitlab graphql grpc websocket websockets openapi swagger postman orm sqlalchemy pydantic "
    "prisma heroku vercel nginx linux test tests testing unit integration relationship relationships relation "
    "relations association associations"
)
# Never fields either: features of a service rather than attributes of a thing.
_FEATURES = _words(
    "authentication authorization auth login logins signup signin sso oauth oauth2 jwt pagination paging "
    "filtering sorting search searching validation caching logging monitoring metrics analytics documentation "
    "docs security performance scalability limiting throttling migrations seeding tests testing crud endpoints "
    "routes etc more others stuff things whatever everything anything something"
)
_NOT_FIELDS = (_FEATURES | _GENERIC) - _words("password token key version uuid session info information website site")
_VERB_TRIGGERS = _words(
    "manage manages managing track tracks tracking store stores storing handle handles handling organize "
    "organizes organizing organise organises organising catalog catalogs catalogue catalogues register registers "
    "maintain maintains maintaining administer administers monitor monitors schedule schedules scheduling share "
    "shares sharing sell sells selling buy buys buying rent rents renting collect collects collecting save saves "
    "saving publish publishes publishing upload uploads uploading browse crud"
)
_CONTAINERS = _words(
    "api apis app apps application service backend system platform website site webapp server microservice "
    "tool dashboard portal program software solution database db project cms erp marketplace"
) | frozenset(_DOMAINS)
_CONTAINER_LINKS = _words("with for having containing including featuring supporting covering")
_DECLARE = _words(
    "entities entity models model tables table resources resource collections collection objects types classes "
    "schemas schema nouns"
)
_SUFFIX_TRIGGERS = (
    _words("management manager managers tracker tracking registry catalog catalogue directory crud administration")
    | _words("admin scheduler scheduling database db")
    | _DECLARE
)
_CRUD_WORDS = _words("crud endpoints endpoint routes route operations")
# "a list of spaceships": the nouns after "of" are what is stored; these words are never entities themselves.
_COLLECTIVES = _words("list set collection fleet pool bunch portfolio series array")
_OF_LISTS = _COLLECTIVES | _words("track catalog catalogue database db registry directory")
_SEPARATORS = frozenset({",", "&", "/", "+", "and", "or", "plus"})
_MODALS = _words("to can cannot could will would should must may might please")
_OBJECT_STARTS = _words(
    "a an the my your our their his her its this that these those some any all each every it them me us him on about"
)
# Two words that together are not the noun one of them is: "user interface", "email address", "order by".
_GENERIC_PAIRS = frozenset(
    tuple(pair.split())
    for pair in _pairs_list(
        "user interface, user experience, user agent, user input, user story, email address, ip address, "
        "mac address, web address, event loop, event bus, event sourcing, event handler, event listener, "
        "event stream, message queue, message broker, message bus, task queue, task runner, job queue, in order, "
        "order by, sort order, post request, get request, file system, order of, deal with, book keeping"
    )
)
_FIELD_OPENERS = _words("with having containing including")
_HAS = _words("has have contain contains include includes hold holds store stores")
_FIELD_FILLER = _words("fields field attributes attribute properties columns column following like such as")
_STRONG_STOPS = (
    _words(
        "that which who whom whose where when so for to in on using via from with by then but if because while like "
        "such"
    )
    | _VERB_TRIGGERS
)
_COMMANDS = _words(
    "use uses build create make generate write implement develop add allow enable support deploy run need want "
    "keep let ensure return expose provide"
)
_WEAK_STOPS = _words("is are was were be been can could should would will must may might has have had do does did")
_FIELD_STARTS = _words("is has can was should allow")
_MARKERS = {"optional": False, "nullable": False, "required": True, "mandatory": True, "unique": None}
_TYPE_WORDS: dict[str, FieldType] = {
    **dict.fromkeys(("string", "str", "varchar", "char"), "string"),
    **dict.fromkeys(("text", "longtext"), "text"),
    **dict.fromkeys(("int", "integer", "bigint"), "integer"),
    **dict.fromkeys(("number", "float", "decimal", "double", "numeric", "money"), "number"),
    **dict.fromkeys(("bool", "boolean"), "boolean"),
    **dict.fromkeys(("datetime", "timestamp", "time"), "datetime"),
    **dict.fromkeys(("date",), "date"),
    **dict.fromkeys(("email",), "email"),
    **dict.fromkeys(("url", "uri"), "url"),
    **dict.fromkeys(("uuid", "guid"), "uuid"),
}
_NOT_ENTITIES = (
    _SKIP | _FUNCTION | _VERBS | _GENERIC | _FEATURES | _VERB_TRIGGERS | _CONTAINERS | _DECLARE | _SUFFIX_TRIGGERS
) | (_SEPARATORS | _COLLECTIVES)

# --- Words: plurals, names, field types --------------------------------------------------------------------

_IRREGULAR = _pairs(
    "people=person, persons=person, men=man, women=woman, children=child, mice=mouse, geese=goose, feet=foot, "
    "teeth=tooth, oxen=ox, statuses=status, viruses=virus, bonuses=bonus, campuses=campus, buses=bus, "
    "analyses=analysis, indices=index, criteria=criterion, quizzes=quiz, leaves=leaf, shelves=shelf, knives=knife, "
    "wives=wife, lives=life, wolves=wolf, halves=half, calves=calf, loaves=loaf, thieves=thief, heroes=hero, "
    "potatoes=potato, tomatoes=tomato, echoes=echo, cacti=cactus, alumni=alumnus, syllabi=syllabus, dice=die"
)
_INVARIANT = _words("series species news sheep fish deer aircraft equipment feedback staff software media data")
_NOUNS = frozenset(_VOCAB) | frozenset(_ALIASES)


def _singular(word: str) -> str:
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word in _INVARIANT or len(word) <= 3 or word in _NOUNS:
        return word
    candidates = [word[:-1]] if word.endswith("s") else []
    if word.endswith("es"):
        candidates.insert(0, word[:-2])
    if word.endswith("ies"):
        candidates.insert(0, word[:-3] + "y")
    for candidate in candidates:
        if candidate in _NOUNS:
            return candidate
    if word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes", "zzes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") else word


def _noun_key(word: str) -> str | None:
    """The vocabulary noun a word (singular or plural) stands for, if any."""
    singular = _singular(word)
    if singular in _VOCAB:
        return singular
    return _ALIASES.get(singular)


def _compound_key(first: str, second: str) -> str | None:
    phrase = f"{first} {_singular(second)}"
    if phrase in _VOCAB:
        return phrase
    return _ALIASES.get(phrase)


def _pascal(words: list[str]) -> str:
    return "".join(w[:1].upper() + w[1:] for w in words)


def _snake(entity_name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(entity_name))


_ENTITY_NAME = re.compile(r"[A-Z][A-Za-z0-9]{0,63}")
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_BOOL_WORDS = _words(
    "active enabled disabled published completed done verified archived visible hidden paid deleted featured "
    "available approved confirmed public private locked pinned resolved subscribed achieved accepted"
)
_INT_WORDS = _words(
    "count quantity qty stock age year years rating stars capacity seats views likes votes points score pages "
    "minutes seconds hours days weeks months credits servings bedrooms bathrooms sets reps floors guests bytes "
    "duration population steps calories"
)
_NUMBER_WORDS = _words(
    "price prices amount total cost costs balance salary fee fees subtotal tax discount budget revenue weight "
    "height width depth length latitude longitude lat lng lon percentage percent ratio temperature distance value "
    "rent income rate speed"
)
_TEXT_WORDS = _words(
    "description body content notes note bio biography summary text comment message details "
    "instructions about abstract excerpt feedback remarks caption transcript"
)


def _field_type(name: str) -> FieldType:
    """A field's type from naming conventions: price -> number, is_* -> boolean, *_at -> datetime, ..."""
    words = name.split("_")
    last = words[-1]
    if last in ("id", "uuid", "guid"):
        return "uuid"
    if (words[0] in _FIELD_STARTS and len(words) > 1) or last in _BOOL_WORDS:
        return "boolean"
    if (last == "at" and len(words) > 1) or last in ("timestamp", "datetime", "time"):
        return "datetime"
    if last in ("date", "birthday", "birthdate", "dob", "deadline") or name == "date_of_birth":
        return "date"
    if "email" in words:
        return "email"
    if last in ("url", "uri", "website", "link", "homepage", "href"):
        return "url"
    if name.startswith(("num_", "number_of_")) or last in _INT_WORDS:
        return "integer"
    if last in _NUMBER_WORDS:
        return "number"
    return "text" if last in _TEXT_WORDS else "string"


_MAX_LENGTHS: dict[str, int] = {"string": 255, "email": 254, "url": 2048}


def _field(name: str, type_: FieldType | None = None, required: bool = True) -> FieldSpec:
    type_ = type_ or _field_type(name)
    return FieldSpec(name=name, type=type_, required=required, max_length=_MAX_LENGTHS.get(type_))


def _vocab_fields(key: str) -> list[FieldSpec]:
    fields = []
    for item in _VOCAB[key][0].split():
        optional = item.endswith("?")
        name, _, type_ = item.rstrip("?").partition(":")
        fields.append(_field(name, _TYPE_WORDS.get(type_), required=not optional))
    return fields


def _field_name(words: list[str]) -> str | None:
    """A valid, declarable snake_case name for the words of a field, or None."""
    name = "_".join(words)
    if not _FIELD_NAME.fullmatch(name) or name in RESERVED_FIELD_NAMES:
        return None
    if keyword.iskeyword(name):
        name += "_"
    return name if len(name) <= 64 else None


# --- Tokens ----------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['\-][A-Za-z0-9]+)*|[,.;:!?()&/+]")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SENTENCE_ENDS = frozenset(".;:!?()")


@dataclass(frozen=True, slots=True)
class _Token:
    text: str  # lower case
    kind: str  # "word", "punct", "opaque" (an unknown hyphenated compound) or "stop" (part of a generic pair)
    glued: bool = False  # continues the previous token's identifier: the "stock" of in_stock or inStock


def _ascii(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c if c.isascii() else ("" if unicodedata.combining(c) else " ") for c in decomposed)


def _is_known_word(word: str) -> bool:
    return word in _NOT_ENTITIES or word in _DOMAINS or _noun_key(word) is not None


def _tokenize(prompt: str) -> list[_Token]:
    tokens: list[_Token] = []
    text = _ascii(prompt)
    end = -1
    for match in _TOKEN.finditer(text):
        raw = match.group()
        glued = match.start() == end + 1 and text[end] == "_"
        end = match.end()
        if not raw[0].isalnum():
            tokens.append(_Token(raw, "punct"))
            continue
        raw = raw.split("'")[0]  # user's -> user, don't -> don
        lower = raw.lower()
        if "-" in raw:
            parts = lower.split("-")
            if _is_known_word("".join(parts)):
                tokens.append(_Token("".join(parts), "word", glued))
            elif len(parts) == 2 and _compound_key(*parts):
                tokens.extend(_Token(p, "word", glued and not i) for i, p in enumerate(parts))
            else:
                tokens.append(_Token("_".join(parts), "opaque", glued))
        elif _is_known_word(lower) or not _CAMEL.search(raw):
            tokens.append(_Token(lower, "word", glued))
        else:  # BlogPost, orderItems
            pieces = [p.lower() for p in _CAMEL.split(raw) if p]
            tokens.extend(_Token(p, "word", glued or i > 0) for i, p in enumerate(pieces))
    for i in range(len(tokens) - 1):
        first, second = tokens[i], tokens[i + 1]
        if first.kind == second.kind == "word" and (first.text, _singular(second.text)) in _GENERIC_PAIRS:
            tokens[i] = _Token(first.text, "stop", first.glued)
            tokens[i + 1] = _Token(second.text, "stop", second.glued)
    return tokens


_NOT_ENTITY_STEMS = _NOT_ENTITIES - frozenset(_DOMAINS)
_ADVERB_ENDINGS = ("ally", "ely", "tly", "ously", "ively", "ably", "ibly", "fully", "ckly", "rly", "nly", "dly")


def _is_noun_like(word: str) -> bool:
    """Whether an entity may be named by this word."""
    if word in _DOMAINS:
        return False
    if _noun_key(word) is not None:
        return True
    if word in _NOT_ENTITIES or _singular(word) in _NOT_ENTITY_STEMS:  # "codes", but "libraries" is fine
        return False
    if not (3 <= len(word) <= 30) or not word[0].isalpha() or not word.isalnum():
        return False
    if word.endswith(_ADVERB_ENDINGS) or (word.endswith("ing") and len(word) > 4):
        return False
    return not (word.endswith("ed") and not word.endswith("eed") and len(word) > 4)


# --- Reading ---------------------------------------------------------------------------------------------


@dataclass
class _Item:
    """A field named in the prompt; `ref` becomes "<ref>_id" if an entity of that name exists."""

    name: str
    type: FieldType | None
    required: bool
    ref: str | None


@dataclass
class _Draft:
    name: str
    key: str | None  # vocabulary noun, None for a noun the vocabulary does not know
    items: list[_Item] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)


@dataclass
class _Items:
    """The field list being read for an owner."""

    owner: _Draft
    # Plurals in order, as (entity name, vocabulary key, the field it is otherwise): known ones are entities
    # ("posts with title and comments"); unknown ones too when beside those or with no field beside them.
    collections: list[tuple[str, str | None, _Item | None]] = field(default_factory=list)
    fields: int = 0  # fields that are not plurals


@dataclass
class _Candidate:
    name: str
    key: str | None
    # An unknown noun kept only beside a noun that is not tentative: "movies and actors" (no trigger) or
    # "an app with spaceships and crew" (a singular after a container).
    tentative: bool = False


class _Reader:
    """One left-to-right pass over the tokens, collecting entity drafts in the order they are mentioned."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.drafts: dict[str, _Draft] = {}
        self.carry: tuple[int, str] | None = None  # (token index, trigger) for a list resumed after fields

    def text(self, k: int) -> str:
        return self.tokens[k].text if 0 <= k < len(self.tokens) else ""

    def word(self, k: int) -> str:
        """The token's text if it is a plain word, else ""."""
        return self.tokens[k].text if 0 <= k < len(self.tokens) and self.tokens[k].kind == "word" else ""

    def is_content(self, k: int) -> bool:
        return bool(self.word(k)) and _is_noun_like(self.word(k))

    def glued(self, k: int) -> bool:
        return 0 <= k < len(self.tokens) and self.tokens[k].glued

    def is_skip(self, k: int) -> bool:
        if not 0 <= k < len(self.tokens):
            return False
        token = self.tokens[k]
        return token.kind == "opaque" or (token.kind == "word" and (token.text in _SKIP or token.text.isdigit()))

    def back(self, k: int, also: frozenset[str] = frozenset()) -> int:
        """The index of the first token at or before k that is not skippable (or in `also`)."""
        for _ in range(8):
            if not (self.is_skip(k) or self.text(k) in also):
                break
            k -= 1
        return k

    def add(self, name: str, key: str | None) -> _Draft:
        if name not in self.drafts:
            self.drafts[name] = _Draft(name, key)
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
            while self.text(m) in _SEPARATORS or self.is_skip(m):
                separated = separated or self.text(m) in _SEPARATORS
                m += 1
            if not (separated and self.is_content(m)):
                break
            k = m
        trigger = self.carry[1] if self.carry and self.carry[0] == start else self.trigger_before(start)
        self.carry = None
        if trigger is None and self.word(k) in _SUFFIX_TRIGGERS:
            trigger = "suffix"
        per_phrase = [self.phrase_candidates(b, e, trigger) for b, e in phrases]
        if not any(not c.tentative for cs in per_phrase for c in cs):
            per_phrase = [[] for _ in phrases]
        if trigger is None and len(phrases) == 1:
            label = self.text(k) == ":" and self.text(start - 1) in ("", *_SENTENCE_ENDS)
            if label or not per_phrase[-1]:  # "User: email, name", "spaceships with name and speed"
                declared = self.read_declaration(start, k)
                if declared is not None:
                    return declared
                last = self.text(k - 1)
                if label and _singular(last) == last:  # "Note: ...", "Task: ..." are labels, not entities
                    return k
        head: _Draft | None = None
        for candidates in per_phrase:
            head = None
            for candidate in candidates:
                head = self.add(candidate.name, candidate.key)
        if head is None:
            return k
        return self.read_fields(k + 1 if self.word(k) in _DECLARE else k, head, trigger)

    def read_declaration(self, begin: int, end: int) -> int | None:
        """A noun given at least two fields: "spaceships with name and speed", "a pilot with name and rank",
        "Pilot (name, rank)", "User: email, name"."""
        head = self.text(end - 1)
        opener = self.text(end)
        key = _compound_key(self.text(begin), head) if end - begin == 2 else _noun_key(head)
        named = _singular(head) != head or (self.after_article(end - 1) and key not in _WEAK)  # "a spaceship with"
        if end - begin > 2 or not (opener in ("(", ":") or (named and opener in _FIELD_OPENERS | _HAS)):
            return None
        words = key.split() if key else [self.text(k) for k in range(begin, end - 1)] + [_singular(head)]
        name = _pascal(words)
        start = self.field_list_start(end)
        if start is None or not _ENTITY_NAME.fullmatch(name):
            return None
        trial = _Draft(name, key)
        stop, _, entities = self.read_items(start, trial, in_parens=opener == "(")
        if len(trial.items) < 2:
            return None
        self.add(name, key).items.extend(trial.items)
        for entity, entity_key in entities:
            self.add(entity, entity_key)
        return stop

    def trigger_before(self, start: int) -> str | None:
        """What puts the nouns at start in a structural position: "verb", "container", "declare" or None."""
        k = self.back(start - 1)
        before = self.text(k)
        if self.word(k) in _VERB_TRIGGERS:
            return "verb"
        if before in _DECLARE:
            return "declare"
        if before in _HAS and self.text(k - 1) in ("that", "which"):
            k, before = k - 1, "with"
        prev = self.text(self.back(k - 1, _CRUD_WORDS - {"crud"}))
        if before in ("for", "of", "on", "over") and (prev in _CRUD_WORDS or self.text(k - 1) in _CRUD_WORDS):
            return "verb"
        if before == "of" and prev in _OF_LISTS:
            return "verb"
        if before in (":", "like", "as", "including") and (prev in _DECLARE or prev == "following"):
            return "declare"
        if before in ("is", "are") and prev in _DECLARE:  # "the main entity is a Spaceship"
            return "declare"
        if before in _CONTAINER_LINKS or before == ":":
            prev = self.text(self.back(k - 1))
            if prev in _CONTAINERS or prev in _DECLARE:
                return "container"
        if before in _FIELD_OPENERS and self.after_article(k - 1):
            return "container"  # "a kanban board with boards, columns and cards"
        return None

    def after_article(self, k: int) -> bool:
        """Whether the words ending at k follow "a" or "an": "a kanban board"."""
        for _ in range(3):
            if not self.is_content(k):
                break
            k -= 1
        return self.text(k) in ("a", "an")

    def phrase_candidates(self, begin: int, end: int, trigger: str | None) -> list[_Candidate]:
        """The entities a run of nouns names: its known nouns, and an unknown head (with one modifier)."""
        units: list[tuple[str | None, int, int]] = []  # (vocabulary key, first token, last token + 1)
        k = begin
        while k < end:
            compound = _compound_key(self.text(k), self.text(k + 1)) if k + 1 < end else None
            if compound:
                units.append((compound, k, k + 2))
                k += 2
            else:
                units.append((_noun_key(self.text(k)), k, k + 1))
                k += 1
        candidates: list[_Candidate] = []
        head_key, head_begin, head_end = units.pop()
        head = self.text(head_end - 1)
        plural = _singular(head) != head
        unknown_head: _Candidate | None = None
        if head_key is None and (trigger is not None or plural):
            words = [_singular(head)]
            if units and units[-1][2] - units[-1][1] == 1 and (trigger is not None or units[-1][0] is None):
                words.insert(0, self.text(units.pop()[1]))
            name = _pascal(words)
            # Without a trigger, an unknown plural counts only beside a known noun: "movies and actors".
            tentative = trigger is None or (trigger == "container" and not plural)
            if _ENTITY_NAME.fullmatch(name):
                unknown_head = _Candidate(name, None, tentative=tentative)
        for key, first, _ in units:
            if key is not None and key not in _WEAK and not self.used_as_verb(first, trigger, modifier=True):
                candidates.append(_Candidate(_pascal(key.split()), key))
        if unknown_head is not None:
            candidates.append(unknown_head)
        elif head_key is not None and (head_key not in _WEAK or plural or trigger == "suffix"):
            alone = not units and head_end - head_begin == 1
            if not (alone and self.used_as_verb(head_begin, trigger, modifier=False)):
                candidates.append(_Candidate(_pascal(head_key.split()), head_key))
        return candidates

    def used_as_verb(self, k: int, trigger: str | None, *, modifier: bool) -> bool:
        """Whether a noun that is also a verb is used as one ("to book a room", "post comments")."""
        word = self.text(k)
        if trigger is not None or word not in _VERBISH:
            return False
        if modifier:  # "book events", "contact details": a singular verb before a plural
            following = self.text(k + 1)
            return _singular(following) != following
        return self.text(k - 1) in _MODALS or self.text(k + 1) in _OBJECT_STARTS

    # --- fields --------------------------------------------------------------------------------------------

    def field_list_start(self, k: int) -> int | None:
        """Where a field list after an entity begins ("with a, b", "(a, b)", ": a, b", "that has a, b")."""
        opener = self.text(k)
        if opener in ("(", ":") or opener in _FIELD_OPENERS:
            k += 1
        elif opener in ("that", "which", "who") and self.text(k + 1) in _HAS:
            k += 2
        elif opener in _HAS:
            k += 1
        else:
            return None
        for _ in range(6):
            if not (self.is_skip(k) or self.text(k) in _FIELD_FILLER or self.text(k) == ":"):
                break
            k += 1
        return k

    def annotation(self, k: int) -> tuple[int, FieldType | None, bool | None] | None:
        """A type or marker after a field name: ": integer", "(number)", "(optional)", "as date"."""
        opener = self.text(k)
        if opener in (":", "as") and self.text(k + 1) in _TYPE_WORDS:
            return 2, _TYPE_WORDS[self.text(k + 1)], None
        if opener != "(":
            return None
        type_: FieldType | None = None
        required: bool | None = None
        for m in range(k + 1, k + 6):
            word = self.text(m)
            if word == ")":
                return (m - k + 1, type_, required) if m > k + 1 else None
            if word in _TYPE_WORDS:
                type_ = _TYPE_WORDS[word]
            elif word in _MARKERS:
                required = _MARKERS[word] if _MARKERS[word] is not None else required
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
        return after in ("(", ":") or _noun_key(last) is not None or _singular(last) != last

    def read_fields(self, k: int, owner: _Draft, trigger: str | None) -> int:
        start = self.field_list_start(k)
        if start is None:
            return k
        in_parens = self.text(k) == "("
        end, declaration_next, entities = self.read_items(start, owner, in_parens=in_parens)
        for name, key in entities:
            self.add(name, key)
        if trigger and (in_parens or declaration_next):
            m = end
            while self.text(m) in _SEPARATORS or self.is_skip(m):
                m += 1
            if self.is_content(m):
                self.carry = (m, trigger)
        return end

    def read_items(self, k: int, owner: _Draft, *, in_parens: bool) -> tuple[int, bool, list[tuple[str, str | None]]]:
        """Reads "a, b (integer) and optional c" into owner's items; returns where it ends, whether the next
        entity's declaration follows, and the entities named in it."""
        items = _Items(owner)
        words: list[str] = []
        type_: FieldType | None = None
        required = True
        declaration_next = False
        while k < len(self.tokens):
            token = self.tokens[k]
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
            if token.text in _SEPARATORS and token.kind in ("word", "punct"):
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
                if token.text in _MARKERS:
                    required = _MARKERS[token.text] is not False
                    k += 1
                    continue
                if self.is_skip(k):
                    k += 1
                    continue
                if (
                    token.text in _STRONG_STOPS
                    or token.text in _COMMANDS
                    or (token.text in _FUNCTION and token.text not in _FIELD_STARTS)
                ):
                    break
                if self.starts_declaration(k):
                    declaration_next = True
                    break
            elif token.text in _STRONG_STOPS or token.text in _WEAK_STOPS:
                break
            words.append(token.text)
            k += 1
            if len(words) > 4:  # a sentence, not a field
                words = []
                break
        self.add_item(items, words, type_, required)
        return k, declaration_next, self.settle(items)

    def add_item(self, items: _Items, words: list[str], type_: FieldType | None, required: bool) -> None:
        owner = items.owner
        if len(words) > 2 and words[0] in _COLLECTIVES and words[1] == "of":  # "a list of attendees"
            words = words[2:]
        if not words or all(w in _NOT_FIELDS for w in words) or len(owner.items) >= MAX_FIELDS:
            return
        key = _compound_key(words[0], words[1]) if len(words) == 2 else _noun_key(words[0]) if len(words) == 1 else None
        last = words[-1]
        name = _field_name(words)
        collection = type_ is None and _singular(last) != last and _field_type(name or "") == "string"
        if collection and len(words) == 1 and owner.key and " " not in owner.key:
            key = _compound_key(owner.key, last) or key  # "orders with items": OrderItem
        if collection and key is not None:
            items.collections.append((_pascal(key.split()), key, None))
            return
        if name is None or any(item.name == name for item in owner.items):
            return
        ref = None
        if type_ is None and _field_type(name) == "string" and len(words) <= 2:
            ref = _pascal(key.split()) if key else _pascal([*words[:-1], _singular(last)])
        item = _Item(name, type_, required, ref)
        owner.items.append(item)
        if collection and ref is not None and _ENTITY_NAME.fullmatch(ref) and all(w.isalpha() for w in words):
            items.collections.append((ref, None, item))
        else:
            items.fields += 1

    @staticmethod
    def settle(items: _Items) -> list[tuple[str, str | None]]:
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

    def entity_at(self, begin: int, end: int) -> str | None:
        """The entity a run of words [begin, end) names, if it is one already found."""
        words = [self.text(k) for k in range(max(begin, end - 2), end)]
        names = []
        if len(words) == 2 and (compound := _compound_key(*words)):
            names.append(_pascal(compound.split()))
        if key := _noun_key(words[-1]):
            names.append(_pascal(key.split()))
        names += [_pascal([*words[:-1], _singular(words[-1])]), _pascal([_singular(words[-1])])]
        return next((n for n in names if n in self.drafts), None)

    def entity_before(self, k: int) -> str | None:
        if self.text(k) in _MODALS:
            k -= 1
        end = k + 1
        while self.is_content(k) and end - k <= 2:
            k -= 1
        return self.entity_at(k + 1, end) if k + 1 < end else None

    def entity_after(self, k: int) -> str | None:
        while self.is_skip(k):
            k += 1
        end = k
        while self.is_content(end) and end - k < 4:
            end += 1
        return self.entity_at(k, end) if end > k else None

    def read_relations(self) -> None:
        """ "pilots belong to spaceships", "each spaceship has many pilots": the child gets "<parent>_id"."""
        for k, token in enumerate(self.tokens):
            child = parent = None
            if token.text in ("belongs", "belong") and self.text(k + 1) == "to":
                child, parent = self.entity_before(k - 1), self.entity_after(k + 2)
            elif token.text in ("has", "have") and self.text(k + 1) in ("many", "multiple", "several"):
                parent, child = self.entity_before(k - 1), self.entity_after(k + 2)
            if child and parent and child != parent and parent not in self.drafts[child].parents:
                self.drafts[child].parents.append(parent)

    def apply_domain(self) -> None:
        """ "a blog", "a library management system": the usual entities of the application named."""
        texts = [t.text for t in self.tokens if t.kind == "word"]
        for i, word in enumerate(texts):
            if word not in _DOMAINS:
                continue
            if word == "library" and _NOT_A_LIBRARY.intersection(texts):
                continue
            if word == "store" and (i == 0 or texts[i - 1] not in _STORE_BEFORE):
                continue
            for key in _DOMAINS[word]:
                self.add(_pascal(key.split()), key)
            return


# --- Building the spec ---------------------------------------------------------------------------------


def _build(drafts: list[_Draft]) -> ProjectSpec:
    names = {d.name for d in drafts}
    by_key: dict[str, str] = {}
    for draft in drafts:
        if draft.key is not None:
            by_key.setdefault(draft.key, draft.name)
    entities = []
    for draft in drafts:
        fields = _base_fields(draft, names)
        references = _references(draft, by_key, names)
        fields = fields[: MAX_FIELDS - len(references)]
        taken = {f.name for f in fields}
        fields += [f for f in references if f.name not in taken]
        entities.append(EntitySpec(name=draft.name, fields=fields))
    # Two nouns whose generated names would clash (bus and buse share /buses): the later one is left out.
    clashing = {clash.location[1] for clash in clashes(entities) if clash.location[2:] == ("name",)}
    return ProjectSpec(entities=[entity for i, entity in enumerate(entities) if i not in clashing])


def _base_fields(draft: _Draft, names: set[str]) -> list[FieldSpec]:
    fields: list[FieldSpec] = []
    for item in draft.items:
        reference = f"{_snake(item.ref)}_id" if item.ref is not None else ""
        if item.ref in names and item.ref != draft.name and len(reference) <= 64:
            candidate = _field(reference, "uuid", item.required)
        else:
            candidate = _field(item.name, item.type, item.required)
        if all(f.name != candidate.name for f in fields):
            fields.append(candidate)
    if fields:
        return fields
    if draft.key is not None:
        return _vocab_fields(draft.key)
    return [_field("name"), _field("description", required=False)]


def _references(draft: _Draft, by_key: dict[str, str], names: set[str]) -> list[FieldSpec]:
    targets: list[tuple[str, bool]] = []
    if draft.key is not None:
        for group in _VOCAB[draft.key][1].split():
            alternatives = [a.replace("_", " ") for a in group.rstrip("?").split("|")]
            present = [by_key[a] for a in alternatives if a in by_key and by_key[a] != draft.name]
            if present:
                targets.append((present[0], not group.endswith("?")))
    targets += [(parent, True) for parent in draft.parents if parent in names]
    fields: list[FieldSpec] = []
    for target, required in targets:
        name = f"{_snake(target)}_id"
        if len(name) <= 64 and all(f.name != name for f in fields):
            fields.append(_field(name, "uuid", required))
    return fields[:MAX_FIELDS]
