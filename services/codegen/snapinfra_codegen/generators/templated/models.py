"""The pydantic models of each entity, and their tests; shared by the `api` and `model` projects."""

from __future__ import annotations

import json
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
from snapinfra_codegen.generators.templated.samples import (
    ProjectSamples,
    applies_max_length,
    default_json,
    invalid_values,
    literal,
)
from snapinfra_shared.spec import FieldSpec

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
    "decimal": ("DecimalNumber", "DecimalNumber"),
    "reference": ("UUID", "UUID"),
}
# Format checks that must run after a length limit (see _types.py).
_FORMAT_VALIDATORS = {"email": "EMAIL_FORMAT", "url": "URL_FORMAT"}
_PYDANTIC_NAMES = frozenset({"BaseModel", "ConfigDict", "Field", "StrictStr", "StrictInt", "StrictFloat", "StrictBool"})
_LOCAL_NAMES = frozenset({"Date", "DateTime", "DecimalNumber", "Email", "Url", "EMAIL_FORMAT", "URL_FORMAT", "NotNull"})


@dataclass(frozen=True)
class ModelContext:
    """Where the models live and how their docstrings describe them."""

    package: str  # dotted package holding the entity modules and _types.py, e.g. "app.models"
    api: bool  # whether the models back REST routes (changes the docstrings only)


def _length_bounds(spec: FieldSpec) -> list[str]:
    bounds = []
    if spec.min_length is not None:
        bounds.append(f"min_length={spec.min_length}")
    if spec.max_length is not None:
        bounds.append(f"max_length={spec.max_length}")
    return bounds


def _scalar_annotation(kind: str, spec: FieldSpec, index: int, enums: dict[str, str] | None = None) -> str:
    if kind == "enum":
        return (enums or {}).get(spec.name, "StrictStr")
    return _ANNOTATIONS[kind][index]


def _enum_aliases(entity: EntityNames) -> dict[str, str]:
    """field name -> the module-level alias of its Literal type (short, so the field lines stay short)."""
    enums = [f for f in entity.fields if f.spec.type == "enum"]
    return {f.name: f"_Enum{n}" for n, f in enumerate(enums, 1)}


def _enum_alias_lines(entity: EntityNames) -> list[str]:
    lines: list[str] = []
    for field in entity.fields:
        if field.spec.type != "enum":
            continue
        alias = _enum_aliases(entity)[field.name]
        values = [json.dumps(value) for value in field.spec.values or []]
        line = f"{alias} = Literal[{', '.join(values)}]"
        lines.append(f"# The values of {field.name}.")
        if len(line) <= LINE_LENGTH:
            lines.append(line)
        else:
            lines += [f"{alias} = Literal[", *(f"    {value}," for value in values), "]"]
    return lines


def _input_annotation(field: FieldNames, enums: dict[str, str]) -> str:
    """The type of a field in the Create model, length limits included for email and URL fields."""
    spec = field.spec
    field_type = spec.type
    if field_type in _FORMAT_VALIDATORS and _length_bounds(spec):
        return f"Annotated[StrictStr, Field({', '.join(_length_bounds(spec))}), {_FORMAT_VALIDATORS[field_type]}]"
    if field_type == "list":
        return f"list[{_scalar_annotation(spec.items or 'string', spec, 0)}]"
    return _scalar_annotation(field_type, spec, 0, enums)


def _output_annotation(field: FieldNames, enums: dict[str, str]) -> str:
    spec = field.spec
    if spec.type == "list":
        return f"list[{_scalar_annotation(spec.items or 'string', spec, 1)}]"
    return _scalar_annotation(spec.type, spec, 1, enums)


def _bound(spec: FieldSpec, value: float) -> str:
    """A bound as source: exact for a decimal (a float 0.01 is a little more than 0.01)."""
    if spec.type == "decimal":
        return f'Decimal("{value}")'
    return repr(value)


def _default_source(spec: FieldSpec) -> str:
    """The spec's default as Python source (a decimal's as a string, so its digits stay exact)."""
    if spec.type == "decimal":
        return json.dumps(str(spec.default))
    return literal(spec.default)


def _field_line(
    field: FieldNames, annotation: str, *, default_none: bool, validate: bool, default: bool = False
) -> str:
    """One annotated attribute of a model class."""
    spec = field.spec
    kwargs = []
    if default:
        kwargs += [f"default={_default_source(spec)}", "validate_default=True"]
    if field.alias is not None:
        kwargs.append(f'alias="{field.alias}"')
    if validate and spec.type in ("string", "text"):
        kwargs += _length_bounds(spec)
    if validate and spec.type == "list":
        kwargs += [f"min_length={spec.min_items}"] if spec.min_items is not None else []
        kwargs += [f"max_length={spec.max_items}"] if spec.max_items is not None else []
    if validate and spec.minimum is not None:
        kwargs.append(f"ge={_bound(spec, spec.minimum)}")
    if validate and spec.maximum is not None:
        kwargs.append(f"le={_bound(spec, spec.maximum)}")
    if validate and spec.type == "number":
        kwargs.append("allow_inf_nan=False")
    if default:
        return call(f"{field.attribute}: {annotation} = Field", kwargs, 4)
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
        enums = _enum_aliases(entity)
        input_type, output_type = _input_annotation(field, enums), _output_annotation(field, enums)
        has_default = field.spec.default is not None
        if field.spec.required:
            create_lines.append(_field_line(field, input_type, default_none=False, validate=True, default=has_default))
            # May be left out of an update, but an explicit null is refused.
            update_lines.append(_field_line(field, f"NotNull[{input_type}]", default_none=True, validate=True))
            output_lines.append(_field_line(field, output_type, default_none=False, validate=False))
        else:
            create_lines.append(
                _field_line(field, f"{input_type} | None", default_none=True, validate=True, default=has_default)
            )
            update_lines.append(_field_line(field, f"{input_type} | None", default_none=True, validate=True))
            output_lines.append(_field_line(field, f"{output_type} | None", default_none=True, validate=False))
    aliases = _enum_alias_lines(entity)
    body = "\n".join(aliases + create_lines + update_lines + output_lines)
    used = {name for name in re.findall(r"[A-Za-z_]+", body) if name in _PYDANTIC_NAMES | _LOCAL_NAMES}
    used |= {"BaseModel", "ConfigDict", "DateTime"}

    imports = []
    if 'Decimal("' in body:
        imports.append("from decimal import Decimal")
    typing_names = [name for name in ("Annotated", "Literal") if f"{name}[" in body]
    if typing_names:
        imports.append(f"from typing import {', '.join(typing_names)}")
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
        *(["", *aliases] if aliases else []),
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


def types_module(entities: list[EntityNames]) -> str:
    """The shared field types; the decimal type only when a field needs it (a v1 spec's stay as they were)."""
    text = render("models/types.py.tmpl")
    if any(f.spec.type == "decimal" or f.spec.items == "decimal" for e in entities for f in e.fields):
        text = text.replace(
            "from datetime import date, datetime\n",
            "from datetime import date, datetime\nfrom decimal import Decimal\n",
            1,
        )
        text = text.replace(
            "from pydantic import AfterValidator, StrictStr", "from pydantic import AfterValidator, Field, StrictStr", 1
        )
        text += render("models/types_decimal.py.tmpl")
    return text


# -- test data shared by the model tests and the route tests ---------------------------------------


def _defaulted(entity: EntityNames) -> list[FieldNames]:
    return [f for f in entity.fields if f.spec.default is not None]


def sample_constants(entity: EntityNames, samples: ProjectSamples) -> str:
    """VALID, OTHER, REQUIRED_FIELDS, OPTIONAL_FIELDS, DEFAULTS (when some field has one) and INVALID_VALUES
    for an entity's tests."""
    valid, other = [], []
    for field in entity.fields:
        first, second = samples.values(entity, field)
        key = f'"{field.name}"'
        valid.append((key, literal(first)))
        other.append((key, literal(second)))
    invalid = [
        call("pytest.param", [f'"{case.field}"', case.source, f'id="{case.field}-{case.reason}"'], 4, ",")
        for field in entity.fields
        for case in invalid_values(entity, field)
    ]
    blocks = [
        "# Valid values for every field, in the form the API returns them.",
        dict_literal("VALID", valid),
        "# Different valid values, used to update.",
        dict_literal("OTHER", other),
        list_literal("REQUIRED_FIELDS", [f'"{f.name}"' for f in entity.required_fields if f.spec.default is None]),
        list_literal("OPTIONAL_FIELDS", [f'"{f.name}"' for f in entity.optional_fields if f.spec.default is None]),
    ]
    if _defaulted(entity):
        blocks += [
            "# The value a field left out of a create takes.",
            dict_literal("DEFAULTS", [(f'"{f.name}"', literal(default_json(f.spec))) for f in _defaulted(entity)]),
        ]
    blocks += [
        "# (field, value) pairs that must be refused.",
        "INVALID_VALUES = [\n" + "".join(f"{param}\n" for param in invalid) + "]",
    ]
    return "\n".join(blocks)


def boundary_params(entity: EntityNames) -> list[str]:
    """pytest.param("field", n) for string fields with a max_length: a value of exactly n must pass."""
    return [
        call("pytest.param", [f'"{f.name}"', str(f.spec.max_length), f'id="{f.name}"'], 4).removeprefix("    ")
        for f in entity.fields
        if applies_max_length(f) and f.spec.type in ("string", "text")
    ]


def model_tests(entity: EntityNames, ctx: ModelContext, samples: ProjectSamples) -> str:
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
            constants=sample_constants(entity, samples),
        )
    ]
    defaults = bool(_defaulted(entity))
    if any(f.spec.default is None for f in entity.required_fields):
        parts.append(render("models/test_models_required.py.tmpl"))
    elif defaults:
        parts.append(render("models/test_models_no_required_defaults.py.tmpl"))
    else:
        parts.append(render("models/test_models_no_required.py.tmpl"))
    if any(f.spec.default is None for f in entity.optional_fields):
        parts.append(render("models/test_models_optional.py.tmpl", with_defaults=", **DEFAULTS" if defaults else ""))
    boundaries = boundary_params(entity)
    if boundaries:
        parts.append(
            render(
                "models/test_models_max_length.py.tmpl",
                params=list_literal("AT_MAX_LENGTH", boundaries, "list[object]"),
            )
        )
    return "\n\n\n".join(part.strip("\n") for part in parts) + "\n"
