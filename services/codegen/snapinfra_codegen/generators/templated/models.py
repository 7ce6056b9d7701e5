"""The pydantic models of each entity, and their tests; shared by the `api` and `model` projects."""

from __future__ import annotations

import re
from dataclasses import dataclass

from snapinfra_codegen.generators.templated.naming import EntityNames, FieldNames
from snapinfra_codegen.generators.templated.pysrc import (
    LINE_LENGTH,
    aliased_import,
    call,
    dict_literal,
    from_import,
    list_literal,
    module_key,
    render,
    sort_names,
    wrap,
)
from snapinfra_codegen.generators.templated.samples import applies_max_length, invalid_values, literal, valid_values

# spec type -> (annotation when validating input, annotation when reading a stored record)
_ANNOTATIONS = {
    "string": ("StrictStr", "StrictStr"),
    "text": ("StrictStr", "StrictStr"),
    "integer": ("StrictInt", "StrictInt"),
    "number": ("StrictFloat", "StrictFloat"),
    "boolean": ("StrictBool", "StrictBool"),
    "datetime": ("DateTime", "DateTime"),
    "date": ("Date", "Date"),
    "email": ("Email", "StrictStr"),
    "url": ("Url", "StrictStr"),
    "uuid": ("UUID", "UUID"),
}
# Format checks that must run after a length limit (see _types.py).
_FORMAT_VALIDATORS = {"email": "EMAIL_FORMAT", "url": "URL_FORMAT"}
_PYDANTIC_NAMES = frozenset({"BaseModel", "ConfigDict", "Field", "StrictStr", "StrictInt", "StrictFloat", "StrictBool"})
_LOCAL_NAMES = frozenset({"Date", "DateTime", "Email", "Url", "EMAIL_FORMAT", "URL_FORMAT", "NotNull"})


@dataclass(frozen=True)
class ModelContext:
    """Where the models live and how their docstrings describe them."""

    package: str  # dotted package holding the entity modules and _types.py, e.g. "app.models"
    api: bool  # whether the models back REST routes (changes the docstrings only)


def _input_annotation(field: FieldNames) -> str:
    """The type of a field in the Create model, length limit included for email and URL fields."""
    field_type = field.spec.type
    if field_type in _FORMAT_VALIDATORS and applies_max_length(field):
        return f"Annotated[StrictStr, Field(max_length={field.spec.max_length}), {_FORMAT_VALIDATORS[field_type]}]"
    return _ANNOTATIONS[field_type][0]


def _field_line(field: FieldNames, annotation: str, *, default_none: bool, validate: bool) -> str:
    """One annotated attribute of a model class."""
    kwargs = []
    if field.alias is not None:
        kwargs.append(f'alias="{field.alias}"')
    if validate and applies_max_length(field) and field.spec.type not in _FORMAT_VALIDATORS:
        kwargs.append(f"max_length={field.spec.max_length}")
    if validate and field.spec.type == "number":
        kwargs.append("allow_inf_nan=False")
    if default_none:
        if kwargs:
            return call(f"{field.attribute}: {annotation} = Field", ["default=None", *kwargs], 4)
        return f"    {field.attribute}: {annotation} = None"
    if kwargs:
        return call(f"{field.attribute}: {annotation} = Field", kwargs, 4)
    return f"    {field.attribute}: {annotation}"


def _class_doc(text: str) -> str:
    """A class docstring: on one line when it fits, else wrapped with the closing quotes on their own line."""
    line = f'    """{text}"""'
    if "\n" not in text and len(line) <= LINE_LENGTH:
        return line
    return f'    """{wrap(text, 4)}\n    """'


def _config(entity: EntityNames, extra: str) -> str:
    options = [f'extra="{extra}"']
    if any(f.alias is not None for f in entity.fields):
        options.append("serialize_by_alias=True")
    return f"    model_config = ConfigDict({', '.join(options)})"


def model_module(entity: EntityNames, ctx: ModelContext) -> str:
    """Source of the module defining <Entity>Create, <Entity>Update and <Entity>."""
    create_lines, update_lines, output_lines = [], [], []
    for field in entity.fields:
        input_type, output_type = _input_annotation(field), _ANNOTATIONS[field.spec.type][1]
        if field.spec.required:
            create_lines.append(_field_line(field, input_type, default_none=False, validate=True))
            # May be left out of an update, but an explicit null is refused.
            update_lines.append(_field_line(field, f"NotNull[{input_type}]", default_none=True, validate=True))
            output_lines.append(_field_line(field, output_type, default_none=False, validate=False))
        else:
            create_lines.append(_field_line(field, f"{input_type} | None", default_none=True, validate=True))
            update_lines.append(_field_line(field, f"{input_type} | None", default_none=True, validate=True))
            output_lines.append(_field_line(field, f"{output_type} | None", default_none=True, validate=False))
    body = "\n".join(create_lines + update_lines + output_lines)
    used = {name for name in re.findall(r"[A-Za-z_]+", body) if name in _PYDANTIC_NAMES | _LOCAL_NAMES}
    used |= {"BaseModel", "ConfigDict", "DateTime"}

    imports = []
    if "Annotated[" in body:
        imports.append("from typing import Annotated")
    imports += [
        "from uuid import UUID",
        "",
        from_import("pydantic", sorted(used & _PYDANTIC_NAMES)),
        "",
        from_import("._types", sorted(used & _LOCAL_NAMES)),
    ]

    name, path = entity.name, entity.path
    if ctx.api:
        module_doc = wrap(
            f"Models for {name}.\n\n{entity.create_class} and {entity.update_class} validate request bodies; "
            f"{entity.output_class} is what the API returns."
        )
        create_doc = f"The body of `POST {path}` and `PUT {path}/<id>`: every field, required or not."
        update_doc = f"The body of `PATCH {path}/<id>`: any subset of the fields."
        output_doc = f"A stored {name}, as the API returns it."
    else:
        module_doc = wrap(
            f"Models for {name}.\n\n{entity.create_class} and {entity.update_class} validate new and changed "
            f"values; {entity.output_class} is a stored {name}."
        )
        create_doc = f"The fields to create a {name}: the required ones must be present."
        update_doc = f"Changes to a {name}: any subset of the fields."
        output_doc = f"A stored {name}: its fields plus the generated id and timestamps."
    update_doc += (
        "\n\nLeave a field out to keep its value (use `model_dump(exclude_unset=True)`); a required field cannot be "
        "set to null."
    )

    sections = [
        f'"""{module_doc}\n"""',
        "",
        "\n".join(imports),
        "",
        "",
        f"class {entity.create_class}(BaseModel):",
        _class_doc(create_doc),
        "",
        _config(entity, "forbid"),
        "",
        *create_lines,
        "",
        "",
        f"class {entity.update_class}(BaseModel):",
        _class_doc(update_doc),
        "",
        _config(entity, "forbid"),
        "",
        *update_lines,
        "",
        "",
        f"class {entity.output_class}(BaseModel):",
        _class_doc(output_doc),
        "",
        _config(entity, "ignore"),
        "",
        "    id: UUID",
        "    created_at: DateTime",
        "    updated_at: DateTime",
        *output_lines,
    ]
    return "\n".join(sections) + "\n"


def models_init(entities: list[EntityNames], ctx: ModelContext, doc: str) -> str:
    """The package __init__ re-exporting every model class."""
    lines = [f'"""{wrap(doc)}"""', ""]
    exported: list[str] = []
    for entity in sorted(entities, key=lambda e: module_key(e.module)):
        classes = [entity.output_class, entity.create_class, entity.update_class]
        lines.append(from_import(f".{entity.module}", classes))
        exported += classes
    lines += ["", list_literal("__all__", [f'"{name}"' for name in sorted(exported)])]
    return "\n".join(lines) + "\n"


def types_module() -> str:
    return render("models/types.py.tmpl")


# -- test data shared by the model tests and the route tests ---------------------------------------


def sample_constants(entity: EntityNames) -> str:
    """VALID, OTHER, REQUIRED_FIELDS, OPTIONAL_FIELDS and INVALID_VALUES for an entity's tests."""
    valid, other = [], []
    for field in entity.fields:
        first, second = valid_values(entity, field)
        key = f'"{field.name}"'
        valid.append((key, literal(first)))
        other.append((key, literal(second)))
    invalid = [
        call("pytest.param", [f'"{case.field}"', case.source, f'id="{case.field}-{case.reason}"'], 4, ",")
        for field in entity.fields
        for case in invalid_values(field)
    ]
    blocks = [
        "# Valid values for every field, in the form the API returns them.",
        dict_literal("VALID", valid),
        "# Different valid values, used to update.",
        dict_literal("OTHER", other),
        list_literal("REQUIRED_FIELDS", [f'"{f.name}"' for f in entity.required_fields]),
        list_literal("OPTIONAL_FIELDS", [f'"{f.name}"' for f in entity.optional_fields]),
        "# (field, value) pairs that must be refused.",
        "INVALID_VALUES = [\n" + "".join(f"{param}\n" for param in invalid) + "]",
    ]
    return "\n".join(blocks)


def boundary_params(entity: EntityNames) -> list[str]:
    """pytest.param("field", n) for string fields with a max_length: a value of exactly n must pass."""
    return [
        f'pytest.param("{f.name}", {f.spec.max_length}, id="{f.name}")'
        for f in entity.fields
        if applies_max_length(f) and f.spec.type in ("string", "text")
    ]


def model_tests(entity: EntityNames, ctx: ModelContext) -> str:
    """Source of tests/test_<entity>_models.py. The classes are imported as Create, Update and Output."""
    aliases = {entity.create_class: "Create", entity.output_class: "Output", entity.update_class: "Update"}
    imports = "\n".join(aliased_import(ctx.package, name, alias) for name, alias in sort_names(aliases.items()))
    parts = [
        render(
            "models/test_models_head.py.tmpl",
            doc=wrap(
                f"Tests for the {entity.name} models: what they accept, what they refuse, and how they read stored "
                "records."
            ),
            imports=imports,
            constants=sample_constants(entity),
        )
    ]
    if entity.required_fields:
        parts.append(render("models/test_models_required.py.tmpl"))
    else:
        parts.append(render("models/test_models_no_required.py.tmpl"))
    if entity.optional_fields:
        parts.append(render("models/test_models_optional.py.tmpl"))
    boundaries = boundary_params(entity)
    if boundaries:
        parts.append(
            render(
                "models/test_models_max_length.py.tmpl",
                params=list_literal("AT_MAX_LENGTH", boundaries, "list[object]"),
            )
        )
    return "\n\n\n".join(part.strip("\n") for part in parts) + "\n"
