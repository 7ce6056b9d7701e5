"""docs/settings.md, generated from the services' pydantic settings: each field's variable, default, allowed
values and description, so the reference cannot miss a setting or drift from the code (`make docs` writes
it; `make test` fails when it is stale).

The service settings are imported by module name, as the dev runner starts the services: the shared
library itself does not depend on them.
"""

from __future__ import annotations

import importlib
import json
import types
import typing
from typing import Any

import annotated_types
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from snapinfra_shared.settings import ServiceSettings, WorkerSettings

SERVICES = {
    "api": "snapinfra_api.settings:ApiSettings",
    "codegen": "snapinfra_codegen.settings:CodegenSettings",
    "deployer": "snapinfra_deployer.settings:DeployerSettings",
    "notifier": "snapinfra_notifier.settings:NotifierSettings",
}

INTRO = """# Settings

Every service reads its settings from the environment (prefix `SNAPINFRA_`) through one
pydantic-settings object, validated at start: a value out of range stops the service with the setting's
name. Where AWS is comes from the standard variables boto3 reads itself (`AWS_ENDPOINT_URL`, `AWS_REGION`,
credentials): the code never knows which AWS it is on. List settings take `a,b,c` or a JSON list.
Traces likewise come from the standard OpenTelemetry variables: `OTEL_EXPORTER_OTLP_ENDPOINT` set turns them on
(see [operations.md](operations.md)).

This page is generated from the settings classes (`make docs`); `make test` fails when it is stale.
"""


def settings_class(path: str) -> type[BaseModel]:
    module, name = path.split(":")
    found = getattr(importlib.import_module(module), name)
    assert isinstance(found, type) and issubclass(found, BaseModel)
    return found


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if value is None:
        return "none"
    if isinstance(value, SecretStr):
        return "set"
    if isinstance(value, list | dict | bool):
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def _literals(annotation: Any) -> list[str]:
    if typing.get_origin(annotation) is typing.Literal:
        return [str(value) for value in typing.get_args(annotation)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [value for arg in typing.get_args(annotation) for value in _literals(arg)]
    return []


def _allowed(field: FieldInfo) -> str:
    """The values a field accepts, from its Literal type and its bounds."""
    choices = _literals(field.annotation)
    if choices:
        return ", ".join(f"`{choice}`" for choice in choices)
    parts: list[str] = []
    for item in field.metadata:
        if isinstance(item, annotated_types.Ge):
            parts.append(f"≥ {item.ge}")
        elif isinstance(item, annotated_types.Gt):
            parts.append(f"> {item.gt}")
        elif isinstance(item, annotated_types.Le):
            parts.append(f"≤ {item.le}")
        elif isinstance(item, annotated_types.Lt):
            parts.append(f"< {item.lt}")
        elif isinstance(item, annotated_types.MinLen) and item.min_length:
            parts.append(f"at least {item.min_length} long")
        elif getattr(item, "pattern", None):
            parts.append(f"matches `{item.pattern}`")
    return ", ".join(parts)


def _rows(model: type[BaseModel], names: list[str]) -> list[str]:
    rows = []
    for name in names:
        field = model.model_fields[name]
        if not field.description:
            raise ValueError(f"{model.__name__}.{name} has no description: give it Field(description=...)")
        meaning = field.description.replace("|", "\\|")
        allowed = _allowed(field)
        rows.append(f"| `SNAPINFRA_{name.upper()}` | {_default(field)} | {allowed} | {meaning} |")
    return rows


def _own(model: type[BaseModel], base: type[BaseModel]) -> list[str]:
    """The fields a class adds to its base, or declares again (a different default or meaning)."""
    return [
        name
        for name, field in model.model_fields.items()
        if name not in base.model_fields or repr(field) != repr(base.model_fields[name])
    ]


def _table(title: str, text: str, model: type[BaseModel], names: list[str]) -> list[str]:
    if not names:
        return []
    head = ["", f"## {title}", "", text, "", "| variable | default | allowed | meaning |", "|---|---|---|---|"]
    return head + _rows(model, names)


def markdown() -> str:
    lines = INTRO.rstrip("\n").split("\n")
    every = list(ServiceSettings.model_fields)
    lines += _table("Every service", "The api and the three workers.", ServiceSettings, every)
    lines += _table(
        "Every queue consumer",
        "The three workers, and the api's consumer of the events its read model is projected from.",
        WorkerSettings,
        _own(WorkerSettings, ServiceSettings),
    )
    for service, path in SERVICES.items():
        model = settings_class(path)
        lines += _table(service, f"`{model.__module__}.{model.__name__}`", model, _own(model, WorkerSettings))
    return "\n".join(lines) + "\n"
