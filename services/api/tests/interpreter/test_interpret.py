"""infer_spec: what a prompt without a `spec` turns into, and which prompts are refused with a reason."""

from __future__ import annotations

import contextlib
import json
import keyword
import os
import random
import string
import subprocess
import sys
import time

import pytest

from snapinfra_api.interpreter import MAX_ENTITIES, MAX_FIELDS, UninterpretablePrompt, infer_spec
from snapinfra_shared.spec import RESERVED_FIELD_NAMES, EntitySpec, ProjectSpec

GUIDE_PROMPT = "Create a REST API for user management"


def wordlist(text: str) -> list[str]:
    return text.split()


def names(prompt: str) -> list[str]:
    return [e.name for e in infer_spec(prompt).entities]


def entity(prompt: str, name: str) -> EntitySpec:
    return next(e for e in infer_spec(prompt).entities if e.name == name)


def types(prompt: str, name: str) -> dict[str, str]:
    return {f.name: f.type for f in entity(prompt, name).fields}


# --- examples -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        (GUIDE_PROMPT, ["User"]),
        ("a blog with posts and comments", ["Post", "Comment"]),
        ("an API to manage spaceships and pilots", ["Spaceship", "Pilot"]),
        ("products with name, price and stock", ["Product"]),
        (
            "Build an e-commerce backend with products, customers, orders and payments",
            ["Product", "Customer", "Order", "Payment"],
        ),
        ("A simple blog API with users, posts, comments and tags", ["User", "Post", "Comment", "Tag"]),
        ("manage employees, departments and teams", ["Employee", "Department", "Team"]),
        ("Users, Products, Orders", ["User", "Product", "Order"]),
        ("Need endpoints to CRUD customers & invoices", ["Customer", "Invoice"]),
        ("user and role management", ["User", "Role"]),
        ("an app that manages invoices and payments for clients", ["Invoice", "Payment", "Client"]),
        ("a REST API for managing recipes with ingredients", ["Recipe", "Ingredient"]),
        ("API for a library: books, authors, members and loans", ["Book", "Author", "Member", "Loan"]),
        ("Create an API with a Users table and an Orders table", ["User", "Order"]),
        (
            "Design a database schema for a university with students, professors, courses and enrollments",
            ["Student", "Teacher", "Course", "Enrollment"],
        ),
        ("a system to book rooms for guests", ["Room", "Guest"]),
        ("users can post comments and like posts", ["User", "Comment", "Post"]),
        ("an event-driven API for orders", ["Order"]),
        ("SELECT * FROM users", ["User"]),
    ],
)
def test_examples(prompt: str, expected: list[str]) -> None:
    assert names(prompt) == expected


def test_the_guides_prompt_is_one_user_entity_with_sensible_fields() -> None:
    spec = infer_spec(GUIDE_PROMPT)
    assert [e.name for e in spec.entities] == ["User"]
    fields = {f.name: f for f in spec.entities[0].fields}
    assert fields["email"].type == "email" and fields["email"].required
    assert fields["email"].max_length is not None
    assert fields["name"].type == "string"
    assert fields["is_active"].type == "boolean"
    assert not RESERVED_FIELD_NAMES & fields.keys()


def test_a_blog_has_posts_and_comments_that_reference_them() -> None:
    prompt = "a blog with posts and comments"
    post = types(prompt, "Post")
    assert post["title"] == "string" and post["body"] == "text" and post["published"] == "boolean"
    assert types(prompt, "Comment")["post_id"] == "reference"
    assert entity(prompt, "Comment").fields[-1].references == "Post"


def test_entities_follow_the_order_of_the_prompt() -> None:
    assert names("comments on posts by users") == ["Comment", "Post", "User"]
    assert names("users, posts and comments") == ["User", "Post", "Comment"]


# --- plurals, compounds ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("manage categories", "Category"),
        ("an API for people", "Person"),
        ("manage addresses", "Address"),
        ("manage movies", "Movie"),
        ("manage boxes", "Box"),
        ("manage matches", "Match"),
        ("manage statuses", "Status"),
        ("manage companies", "Company"),
        ("manage shelves", "Shelf"),
        ("manage inventory items", "InventoryItem"),
        ("manage line items", "LineItem"),
        ("manage spaceship parts", "SpaceshipPart"),
        ("track vinyl records", "VinylRecord"),
        ("manage the staff", "Employee"),
        ("manage mp3s", "Mp3"),
        ("Entities: OrderItem", "OrderItem"),
    ],
)
def test_plurals_and_compounds_become_singular_pascal_case(prompt: str, expected: str) -> None:
    assert names(prompt) == [expected]


# --- relations ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "child", "reference"),
    [
        ("orders and customers", "Order", "customer_id"),
        ("a blog with posts and comments", "Comment", "post_id"),
        ("reviews for products", "Review", "product_id"),
        ("books and authors", "Book", "author_id"),
        ("manage projects and tasks", "Task", "project_id"),
        ("orders with items", "OrderItem", "order_id"),
        ("manage employees and departments", "Employee", "department_id"),
        ("each user has many orders", "Order", "user_id"),
    ],
)
def test_related_known_nouns_get_a_reference(prompt: str, child: str, reference: str) -> None:
    field = next(f for f in entity(prompt, child).fields if f.name == reference)
    assert field.type == "reference"
    assert field.references is not None and field.references.lower() == reference.removesuffix("_id")


def test_a_reference_needs_both_entities() -> None:
    assert not any(f.name.endswith("_id") for f in entity("manage orders", "Order").fields)
    assert not any(f.name.endswith("_id") for f in entity("manage comments", "Comment").fields)


def test_relations_spelled_out_in_the_prompt() -> None:
    prompt = "an API to manage spaceships. each pilot belongs to a spaceship. pilots have a name and a rank"
    assert names(prompt) == ["Spaceship", "Pilot"]
    assert types(prompt, "Pilot") == {"name": "string", "rank": "string", "spaceship_id": "reference"}
    assert types("manage planets and moons; each planet has many moons", "Moon")["planet_id"] == "reference"


def test_a_field_naming_another_entity_becomes_its_reference() -> None:
    prompt = "pilots with name and spaceship; spaceships with name and speed"
    assert types(prompt, "Pilot") == {"name": "string", "spaceship_id": "reference"}
    assert types("products with name, price and category", "Product")["category"] == "string"


# --- explicit fields ----------------------------------------------------------------------------------------


def test_explicit_fields_replace_the_defaults_with_conventional_types() -> None:
    assert types("products with name, price and stock", "Product") == {
        "name": "string",
        "price": "decimal",
        "stock": "integer",
    }


def test_field_types_follow_naming_conventions() -> None:
    fields = (
        "price, total_amount, cost, quantity, stock, age, view_count, is_active, has_children, published, "
        "shipped_at, due_date, birthday, email, contact_email, url, website, link, owner_id, description, body, "
        "content, notes, title"
    )
    assert types(f"widgets with {fields}", "Widget") == {
        "price": "decimal",
        "total_amount": "decimal",
        "cost": "decimal",
        "quantity": "integer",
        "stock": "integer",
        "age": "integer",
        "view_count": "integer",
        "is_active": "boolean",
        "has_children": "boolean",
        "published": "boolean",
        "shipped_at": "datetime",
        "due_date": "date",
        "birthday": "date",
        "email": "email",
        "contact_email": "email",
        "url": "url",
        "website": "url",
        "link": "url",
        "owner_id": "uuid",
        "description": "text",
        "body": "text",
        "content": "text",
        "notes": "text",
        "title": "string",
    }


def test_explicit_types_markers_and_identifiers() -> None:
    prompt = "products with name: string, price: decimal, in_stock: bool, released (date), sku (optional), isFeatured"
    product = {f.name: f for f in entity(prompt, "Product").fields}
    assert {n: f.type for n, f in product.items()} == {
        "name": "string",
        "price": "decimal",
        "in_stock": "boolean",
        "released": "date",
        "sku": "string",
        "is_featured": "boolean",
    }
    assert not product["sku"].required and product["name"].required
    assert not entity("users with email and an optional phone", "User").fields[1].required


def test_multi_word_fields_reserved_names_and_keywords() -> None:
    prompt = "users with id, first name, date of birth, email address, created_at, class and updated_at"
    assert types(prompt, "User") == {
        "first_name": "string",
        "date_of_birth": "date",
        "email_address": "email",
        "class_": "string",
    }


def test_several_entities_with_their_own_fields() -> None:
    for prompt in (
        "spaceships with name and speed, and pilots with name and rank",
        "manage spaceships (name, speed) and pilots (name, rank)",
        "Spaceship: name, speed. Pilot: name, rank",
    ):
        spec = infer_spec(prompt)
        assert [(e.name, [f.name for f in e.fields]) for e in spec.entities] == [
            ("Spaceship", ["name", "speed"]),
            ("Pilot", ["name", "rank"]),
        ], prompt


def test_plural_known_nouns_in_a_field_list_are_entities() -> None:
    prompt = "posts with title, body and comments"
    assert names(prompt) == ["Post", "Comment"]
    assert [f.name for f in entity(prompt, "Post").fields] == ["title", "body"]
    assert names("a game with players, teams and matches") == ["Game", "Player", "Team", "Match"]


def test_features_are_not_fields() -> None:
    assert [f.name for f in entity("an API for users with authentication and pagination", "User").fields] == [
        f.name for f in entity(GUIDE_PROMPT, "User").fields
    ]


# --- unknown nouns ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("an API to manage spaceships and pilots", ["Spaceship", "Pilot"]),
        ("spaceship management", ["Spaceship"]),
        ("CRUD for spaceships", ["Spaceship"]),
        ("CRUD operations for spaceships", ["Spaceship"]),
        ("tracking parcels and couriers", ["Parcel", "Courier"]),
        ("store recipes and chefs", ["Recipe", "Chef"]),
        ("a backend with spaceships, planets and crew", ["Spaceship", "Planet", "Crew"]),
        ("Entities: Spaceship, Pilot", ["Spaceship", "Pilot"]),
        ("Create a Spaceship model with name and speed", ["Spaceship"]),
        ("keep track of plants", ["Plant"]),
        ("a catalog of minerals", ["Mineral"]),
        ("movies and actors", ["Movie", "Actor"]),
        ("a spaceship with name and speed", ["Spaceship"]),
        ("a robot with arms and legs", ["Arm", "Leg"]),
        ("a kanban board with boards, columns and cards", ["Board", "Column", "Card"]),
        ("REST API to manage a fleet of drones and their flight logs", ["Drone", "FlightLog"]),
        ("The main entity is a Spaceship with a name, a max speed and a launch date.", ["Spaceship"]),
        ("I want an API for my bakery to manage cakes, orders and customers", ["Cake", "Order", "Customer"]),
    ],
)
def test_unknown_nouns_in_structural_positions_are_entities(prompt: str, expected: list[str]) -> None:
    assert names(prompt) == expected


def test_unknown_nouns_get_generic_fields() -> None:
    fields = entity("manage spaceships", "Spaceship").fields
    assert [(f.name, f.type, f.required) for f in fields] == [("name", "string", True), ("description", "text", False)]


GENERIC = ["api", "rest", "app", "application", "service", "backend", "system", "data", "crud", "endpoint"]
GENERIC += ["database", "code", "simple", "create", "build", "project"]


@pytest.mark.parametrize("word", GENERIC)
def test_generic_words_are_never_entities(word: str) -> None:
    prompts = [f"create a {word}", f"an app with {word} and users", f"manage the {word}", f"a {word} for users"]
    if word != "project":  # "projects" is a noun like "tasks"
        prompts += [f"an API for {word}s", f"manage {word}s"]
    for prompt in prompts:
        try:
            found = names(prompt)
        except UninterpretablePrompt:
            continue
        assert word.capitalize() not in found, prompt


def test_a_project_is_an_entity_only_as_a_thing_to_manage() -> None:
    assert names("manage projects and tasks") == ["Project", "Task"]
    assert names("project management") == ["Project"]
    assert names("a project with users and tasks") == ["User", "Task"]


def test_unknown_nouns_outside_structural_positions_are_not_entities() -> None:
    for prompt in ("a weather app", "an API for a parking lot", "a URL shortener", "an API returning random quotes"):
        with pytest.raises(UninterpretablePrompt):
            infer_spec(prompt)


def test_an_application_named_alone_stands_for_its_usual_entities() -> None:
    assert names("a blog") == ["Post", "Comment"]
    assert names("a library management system") == ["Book", "Author", "Member", "Loan"]
    assert names("hospital management system") == ["Patient", "Doctor", "Appointment"]
    with pytest.raises(UninterpretablePrompt):
        infer_spec("Create a Python library")


# --- refusals -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    [
        "hello",
        "asdf qwerty",
        "make it fast",
        "",
        "   \n\t ",
        "\U0001f680\U0001f525",
        "the and of",
        "Create a simple REST API",
        "Write me a Flask app",
        "I want to build a backend",
        "Build a microservice that handles authentication",
        "Note: use postgres",
        "1234",
        "!!!",
        "\u7528\u6237\u7ba1\u7406\u7cfb\u7edf",
    ],
)
def test_prompts_naming_nothing_to_store_are_refused_with_a_reason(prompt: str) -> None:
    with pytest.raises(UninterpretablePrompt) as raised:
        infer_spec(prompt)
    message = str(raised.value)
    assert "name at least one thing to store" in message
    assert "'users'" in message and "`spec`" in message
    assert isinstance(raised.value, ValueError)


def test_an_empty_prompt_is_called_empty() -> None:
    with pytest.raises(UninterpretablePrompt, match="empty"):
        infer_spec("  ")


# --- limits, determinism, robustness ------------------------------------------------------------------------


def test_at_most_twenty_entities_in_prompt_order() -> None:
    nouns = "planets moons comets asteroids galaxies rockets satellites probes astronauts pilots engineers missions"
    nouns += " hangars docks orbits telescopes observatories meteors craters lunar_bases quasars pulsars stars"
    found = names("manage spaceships, " + ", ".join(nouns.split()))
    assert len(found) == MAX_ENTITIES
    assert found[:3] == ["Spaceship", "Planet", "Moon"]
    assert found[-3:] == ["Observatory", "Meteor", "Crater"]


def test_at_most_fifty_fields() -> None:
    fields = ", ".join(f"field{i}" for i in range(80))
    assert len(entity(f"manage widgets with {fields}", "Widget").fields) == MAX_FIELDS


def test_references_fit_within_the_field_limit() -> None:
    fields = ", ".join(f"field{i}" for i in range(80))
    order = entity(f"manage customers and orders with {fields}", "Order")
    assert len(order.fields) == MAX_FIELDS
    assert order.fields[-1].name == "customer_id"


def test_the_same_prompt_gives_the_same_spec() -> None:
    prompt = "A simple blog API with users, posts, comments and tags; posts have a title, a body and a slug"
    assert infer_spec(prompt) == infer_spec(prompt)


def test_the_spec_does_not_depend_on_hash_randomization() -> None:
    prompt = "Build an e-commerce backend with products, customers, orders, reviews and payments"
    script = (
        "import sys; from snapinfra_api.interpreter import infer_spec; print(infer_spec(sys.argv[1]).model_dump_json())"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script, prompt],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1
    assert ProjectSpec.model_validate(json.loads(outputs.pop())) == infer_spec(prompt)


def test_a_long_prompt_is_fast() -> None:
    rng = random.Random(7)
    words = wordlist("manage users orders with name price and , the spaceships ( ) : for api has many belongs to")
    prompt = " ".join(rng.choice(words) for _ in range(1000))[:4000]
    started = time.perf_counter()
    for _ in range(5):
        with contextlib.suppress(UninterpretablePrompt):
            infer_spec(prompt)
    assert (time.perf_counter() - started) / 5 < 0.25


def assert_valid(spec: ProjectSpec) -> None:
    assert 1 <= len(spec.entities) <= MAX_ENTITIES
    for e in spec.entities:
        assert 1 <= len(e.fields) <= MAX_FIELDS
        for f in e.fields:
            assert f.name not in RESERVED_FIELD_NAMES and not keyword.iskeyword(f.name)
    assert ProjectSpec.model_validate_json(spec.model_dump_json()) == spec


_TRICKY = wordlist(
    "manage track store CRUD for with and or , ; : ( ) . api app users orders spaceships pilots people "
    "inventory items e-commerce BlogPost in_stock isActive name price stock email id created_at class "
    "from import has many belongs to entities models table optional (integer) the a an of 's été 🚀 "
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 3d x"
)


@pytest.mark.parametrize("seed", range(8))
def test_any_input_gives_a_valid_spec_or_a_refusal(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(250):
        if rng.random() < 0.5:
            prompt = "".join(rng.choice(string.printable) for _ in range(rng.randint(0, 400)))
        else:
            prompt = " ".join(rng.choice(_TRICKY) for _ in range(rng.randint(0, 120)))
        try:
            spec = infer_spec(prompt)
        except UninterpretablePrompt as refusal:
            assert "name at least one thing to store" in str(refusal)
        else:
            assert_valid(spec)


# --- spec v2: references, enums, bounds, uniqueness ---------------------------------------------------------


def refs(prompt: str) -> set[tuple[str, str]]:
    return {
        (e.name, f.references)
        for e in infer_spec(prompt).entities
        for f in e.fields
        if f.type == "reference" and f.references is not None
    }


def test_the_library_prompt_gives_books_by_authors_and_loans_of_books_to_members() -> None:
    prompt = "A library system with books, authors and loans"
    spec = infer_spec(prompt)
    assert [e.name for e in spec.entities] == ["Book", "Author", "Loan", "Member"]
    assert {("Book", "Author"), ("Loan", "Book"), ("Loan", "Member")} <= refs(prompt)
    book_author = next(f for f in spec.entity("Book").fields if f.name == "author_id")
    assert book_author.required and book_author.on_delete_rule == "restrict"
    assert [(e.name, f.name) for e, f in spec.referrers("Book")] == [("Loan", "book_id")]
    loan = {f.name: f for f in spec.entity("Loan").fields}
    assert loan["due_date"].type == "date" and loan["borrowed_at"].type == "datetime"
    assert loan["status"].type == "enum" and loan["status"].values == ["active", "returned", "overdue"]
    assert loan["status"].default == "active"
    member = {f.name: f for f in spec.entity("Member").fields}
    assert member["email"].type == "email" and member["email"].unique


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a blog with posts and comments", {("Comment", "Post")}),
        ("track spaceships and pilots", {("Pilot", "Spaceship")}),
        ("students, courses and enrollments", {("Enrollment", "Student"), ("Enrollment", "Course")}),
        (
            "many-to-many between students and clubs via memberships",
            {("Membership", "Student"), ("Membership", "Club")},
        ),
        ("movies and actors, connected through castings", {("Casting", "Movie"), ("Casting", "Actor")}),
        ("each team has many players", {("Player", "Team")}),
        ("Entities: Author, Book. A book has one author.", {("Book", "Author")}),
        (
            "Build me a real estate app. Agents list properties; clients can schedule viewings of a property.",
            {("Property", "Agent"), ("Viewing", "Property"), ("Viewing", "Client")},
        ),
        ("people and their pets", {("Pet", "Person")}),
        ("parents and children", {("Child", "Parent")}),
        ("a blog wiht posts and coments", {("Comment", "Post")}),
    ],
)
def test_relations_are_inferred_from_ordinary_prompts(prompt: str, expected: set[tuple[str, str]]) -> None:
    assert expected <= refs(prompt)


def test_a_dependent_item_is_deleted_with_its_parent_and_others_restrict() -> None:
    spec = infer_spec("e-commerce backend with products, customers, orders and order items")
    item = {f.name: f for f in spec.entity("OrderItem").fields}
    assert item["order_id"].on_delete == "cascade"
    assert item["product_id"].on_delete_rule == "restrict"
    assert next(f for f in spec.entity("Order").fields if f.name == "customer_id").on_delete_rule == "restrict"


def test_common_field_names_get_their_types_and_bounds() -> None:
    prompt = (
        "widgets with title, name, price, amount, cost, quantity, count, rating, due_date, due, born, shipped_at, "
        "status, priority, email, latitude"
    )
    fields = {f.name: f for f in entity(prompt, "Widget").fields}
    for name in ("title", "name"):
        assert (fields[name].type, fields[name].min_length, fields[name].max_length) == ("string", 1, 200)
    for name in ("price", "amount", "cost"):
        assert (fields[name].type, fields[name].minimum) == ("decimal", 0)
    for name in ("quantity", "count"):
        assert (fields[name].type, fields[name].minimum) == ("integer", 0)
    assert (fields["rating"].minimum, fields["rating"].maximum) == (1, 5)
    assert {fields[n].type for n in ("due_date", "due", "born")} == {"date"}
    assert fields["shipped_at"].type == "datetime"
    assert fields["status"].type == "enum" and fields["status"].values == ["active", "inactive"]
    assert fields["priority"].values == ["low", "medium", "high"] and fields["priority"].default == "low"
    assert fields["email"].type == "email" and not fields["email"].unique  # a widget is not a person
    assert (fields["latitude"].minimum, fields["latitude"].maximum) == (-90, 90)


def test_enum_values_follow_the_noun_and_emails_of_people_are_unique() -> None:
    order = {f.name: f for f in entity("manage orders", "Order").fields}
    assert order["status"].values == ["pending", "paid", "shipped", "delivered", "cancelled"]
    assert order["total"].type == "decimal" and order["total"].minimum == 0
    task = {f.name: f for f in entity("manage tasks", "Task").fields}
    assert task["status"].values == ["todo", "in_progress", "done"]
    for noun in ("users", "customers", "students", "employees"):
        assert next(f for f in infer_spec(f"manage {noun}").entities[0].fields if f.name == "email").unique


def test_an_explicit_type_word_wins_over_the_name() -> None:
    fields = {
        f.name: f for f in entity("products with price: float, status: string, weight (decimal)", "Product").fields
    }
    assert fields["price"].type == "number" and fields["price"].minimum == 0
    assert fields["status"].type == "string"
    assert fields["weight"].type == "decimal"


def test_required_references_never_form_a_cycle() -> None:
    prompt = (
        "manage pilots, spaceships and hangars; each pilot belongs to a spaceship, each spaceship belongs to a "
        "hangar, and each hangar belongs to a pilot"
    )
    spec = infer_spec(prompt)  # a cycle of required references would not validate at all
    links = {(e.name, f.references): f.required for e in spec.entities for f in e.fields if f.type == "reference"}
    assert links.keys() == {("Pilot", "Spaceship"), ("Spaceship", "Hangar"), ("Hangar", "Pilot")}
    assert sorted(links.values()) == [False, True, True]  # the link that closes the loop is optional


def test_a_misspelt_noun_is_read_as_the_noun_but_real_words_are_left_alone() -> None:
    assert names("Sytem for managing custmers and ordres") == ["Customer", "Order"]
    assert names("keep track of plants") == ["Plant"]
    assert types("posts with title and published", "Post")["published"] == "boolean"
