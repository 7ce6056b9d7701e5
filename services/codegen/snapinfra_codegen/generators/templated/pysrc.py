"""Small helpers for writing generated source: templates, imports and calls that respect a line length."""

from __future__ import annotations

import re
import string
import textwrap
from collections.abc import Iterable
from functools import cache
from importlib import resources

LINE_LENGTH = 120  # the generated projects' ruff line-length


@cache
def _template(name: str) -> string.Template:
    package = resources.files("snapinfra_codegen.generators.templated")
    text = package.joinpath("templates", *name.split("/")).read_text(encoding="utf-8")
    return string.Template(text)


def render(name: str, **substitutions: str) -> str:
    """A template from templates/ with its $placeholders filled in (all of them, or KeyError)."""
    return _template(name).substitute(substitutions)


def from_import(module: str, names: list[str]) -> str:
    """`from module import a, b`, parenthesised one per line when too long (as isort writes it)."""
    ordered = sorted(set(names), key=_isort_key)
    line = f"from {module} import {', '.join(ordered)}"
    if len(line) <= LINE_LENGTH:
        return line
    body = "".join(f"    {name},\n" for name in ordered)
    return f"from {module} import (\n{body})"


def aliased_import(module: str, name: str, alias: str) -> str:
    """`from module import name as alias`: isort keeps each aliased import on its own line."""
    line = f"from {module} import {name} as {alias}"
    if len(line) <= LINE_LENGTH:
        return line
    return f"from {module} import (\n    {name} as {alias},\n)"


def sort_names(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(name, alias) pairs in the order isort writes their imports."""
    return sorted(pairs, key=lambda pair: _isort_key(pair[0]))


def natural_key(name: str) -> tuple[tuple[int | str, ...], tuple[int | str, ...]]:
    """The order ruff's isort gives names and modules: natural (entity2 before entity10), case-insensitive,
    with case breaking ties."""

    def parts(text: str) -> tuple[int | str, ...]:
        return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))

    return parts(name.lower()), parts(name)


def module_key(module: str) -> tuple[tuple[int | str, ...], tuple[int | str, ...]]:
    """The order of `from module import ...` lines within a section."""
    return natural_key(module)


def _isort_key(name: str) -> tuple[int, tuple[tuple[int | str, ...], tuple[int | str, ...]]]:
    # ruff's isort with order-by-type: CONSTANTS, then Classes, then functions and variables.
    if name.isupper() and len(name) > 1:
        return 0, natural_key(name)
    if name[:1].isupper():
        return 1, natural_key(name)
    return 2, natural_key(name)


def call(prefix: str, arguments: list[str], indent: int, suffix: str = "") -> str:
    """`prefix(arg, arg)suffix` at `indent`, with the arguments on their own line when it is too long."""
    pad = " " * indent
    line = f"{pad}{prefix}({', '.join(arguments)}){suffix}"
    if len(line) <= LINE_LENGTH:
        return line
    inner = f"{pad}    {', '.join(arguments)}"
    if len(inner) <= LINE_LENGTH:
        return f"{pad}{prefix}(\n{inner}\n{pad}){suffix}"
    body = "".join(f"{pad}    {argument},\n" for argument in arguments)
    return f"{pad}{prefix}(\n{body}{pad}){suffix}"


def dict_literal(name: str, entries: list[tuple[str, str]]) -> str:
    """`NAME = {"key": value, ...}` with one entry per line (entries are already Python source)."""
    if not entries:
        return f"{name}: dict[str, object] = {{}}"
    body = "".join(f"    {key}: {value},\n" for key, value in entries)
    return f"{name} = {{\n{body}}}"


def list_literal(name: str, items: list[str], annotation: str = "list[str]") -> str:
    """`NAME = [...]`, on one line when it fits, otherwise one item per line."""
    if not items:
        return f"{name}: {annotation} = []"
    line = f"{name} = [{', '.join(items)}]"
    if len(line) <= LINE_LENGTH:
        return line
    body = "".join(f"    {item},\n" for item in items)
    return f"{name} = [\n{body}]"


def tuple_literal(name: str, items: list[str]) -> str:
    """`NAME = (a, b)`, with the trailing comma a one-item tuple needs; one item per line when too long."""
    inner = f"{items[0]}," if len(items) == 1 else ", ".join(items)
    line = f"{name} = ({inner})"
    if len(line) <= LINE_LENGTH:
        return line
    body = "".join(f"    {item},\n" for item in items)
    return f"{name} = (\n{body})"


def wrap(text: str, indent: int = 0, lead: int = 3) -> str:
    """Prose (a docstring's paragraphs, blank-line separated) wrapped to the line length at `indent`; names
    longer than a line stay whole. The first line is not indented: it follows `lead` characters (the opening
    quotes of a docstring)."""
    pad = " " * indent
    paragraphs = [
        textwrap.fill(
            " ".join(paragraph.split()),
            width=LINE_LENGTH - indent,
            initial_indent=" " * lead if i == 0 else "",
            break_long_words=False,
            break_on_hyphens=False,
        )[lead if i == 0 else 0 :].replace("\n", "\n" + pad)
        for i, paragraph in enumerate(text.split("\n\n"))
    ]
    return ("\n\n" + pad).join(paragraphs)


def dict_entry(key: str, value: str, indent: int = 4) -> str:
    """`key: value,` in a dict literal; a value that makes the line too long goes in parentheses below it (the
    formatter keeps them, and cannot split a single string)."""
    pad = " " * indent
    line = f"{pad}{key}: {value},"
    if len(line) <= LINE_LENGTH:
        return line
    return f"{pad}{key}: (\n{pad}    {value}\n{pad}),"


def def_line(name: str, parameters: list[str], returns: str, indent: int = 0) -> str:
    """`def name(parameters) -> returns:`, with one parameter per line (and the magic trailing comma that keeps
    them there) when it is too long."""
    pad = " " * indent
    line = f"{pad}def {name}({', '.join(parameters)}) -> {returns}:"
    if len(line) <= LINE_LENGTH or not parameters:
        return line
    body = "".join(f"{pad}    {parameter},\n" for parameter in parameters)
    return f"{pad}def {name}(\n{body}{pad}) -> {returns}:"
