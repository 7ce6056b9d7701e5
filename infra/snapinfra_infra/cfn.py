"""Reading a synthesized template: intrinsic functions rendered as text, resources found by name."""

from __future__ import annotations

import json
from typing import Any

NAME_PROPERTY = {
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::S3::Bucket": "BucketName",
}


def render(value: Any) -> str:
    """An intrinsic as text: Ref X -> '${X}', GetAtt X.Arn -> '${X.Arn}', joins joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return "${" + str(arg) + "}"
        if fn == "Fn::GetAtt":
            return "${" + ".".join(arg) + "}"
        if fn == "Fn::Join":
            return str(arg[0]).join(render(part) for part in arg[1])
        if fn == "Fn::Sub":
            return str(arg if isinstance(arg, str) else arg[0])
    return json.dumps(value, sort_keys=True)


def names(template: dict[str, Any]) -> dict[str, str]:
    """Logical id -> physical name, for the resources that have an explicit one."""
    found = {}
    for logical_id, resource in template["Resources"].items():
        prop = NAME_PROPERTY.get(resource["Type"])
        if prop and prop in resource.get("Properties", {}):
            found[logical_id] = resource["Properties"][prop]
    return found


def logical_id(template: dict[str, Any], kind: str, name: str) -> str:
    matches = [k for k, v in names(template).items() if template["Resources"][k]["Type"] == kind and v == name]
    assert len(matches) == 1, f"one {kind} named {name}, found {matches}"
    return matches[0]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
