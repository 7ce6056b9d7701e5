"""The deployer's own record of each deployment, in its own table (`pk=DEPLOYMENT#<id>`, `sk=DEPLOYMENT`).

The record is the idempotency key of both requests: one DeploymentRequested makes one record and one
stack; a destroy is numbered, and the record says which destroy it is at. It is also the lease of the
"look at the stack again" chain: `checks` counts turns (a conditional update takes one) and
`check_after` says when the next is due, so a redelivered event that arrives meanwhile is dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from botocore.exceptions import ClientError

Status = Literal["deploying", "deployed", "failed", "destroying", "destroyed", "destroy_failed"]
EARLY_TOLERANCE_SECONDS = 1.0  # a delayed copy may arrive a little before its due time


@dataclass(frozen=True)
class DeploymentRecord:
    deployment_id: str
    user_id: str
    project_id: str
    code_gen_id: str
    environment: str
    stack_name: str
    region: str
    status: Status
    started_at: float
    role_arn: str | None = None
    stack_id: str | None = None
    template_key: str | None = None
    checks: int = 0
    check_after: float = 0.0
    last_event_id: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    reason: str | None = None
    stack_status: str | None = None
    completed_at: str | None = None
    destroy_attempt: int = 0
    destroy_started_at: float = 0.0
    delete_requested: int = 0  # the destroy attempt that asked CloudFormation to delete the stack
    destroyed_at: str | None = None


_INTEGERS = {"checks", "destroy_attempt", "delete_requested"}
_NUMBERS = {"started_at", "check_after", "destroy_started_at", *_INTEGERS}


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        raise TypeError("no booleans in a deployment record")
    if isinstance(value, int | float):
        return {"N": repr(value)}
    if isinstance(value, dict):
        return {"S": json.dumps(value, sort_keys=True)}
    return {"S": str(value)}


def _item(record: DeploymentRecord) -> dict[str, Any]:
    item = {"pk": {"S": f"DEPLOYMENT#{record.deployment_id}"}, "sk": {"S": "DEPLOYMENT"}}
    for f in fields(record):
        value = getattr(record, f.name)
        if value is not None:
            item[f.name] = _value(value)
    return item


def _record(item: dict[str, Any]) -> DeploymentRecord:
    values: dict[str, Any] = {}
    for f in fields(DeploymentRecord):
        if f.name not in item:
            continue
        raw = item[f.name]
        if f.name in _NUMBERS:
            number = float(raw["N"])
            values[f.name] = int(number) if f.name in _INTEGERS else number
        elif f.name == "outputs":
            values[f.name] = json.loads(raw["S"])
        else:
            values[f.name] = raw["S"]
    return DeploymentRecord(**values)


class DeploymentRecords:
    def __init__(self, dynamodb: Any, table: str):
        self._ddb = dynamodb
        self.table = table

    @staticmethod
    def _key(deployment_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"DEPLOYMENT#{deployment_id}"}, "sk": {"S": "DEPLOYMENT"}}

    def open(self, record: DeploymentRecord) -> DeploymentRecord:
        """Record a new deployment; if it is known already, the record as it stands."""
        try:
            self._ddb.put_item(TableName=self.table, Item=_item(record), ConditionExpression="attribute_not_exists(pk)")
            return record
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        found = self.get(record.deployment_id)
        assert found is not None  # a record is never deleted
        return found

    def get(self, deployment_id: str) -> DeploymentRecord | None:
        item = self._ddb.get_item(TableName=self.table, Key=self._key(deployment_id), ConsistentRead=True).get("Item")
        return _record(item) if item else None

    def take_turn(self, record: DeploymentRecord, now: float, hold_seconds: float) -> DeploymentRecord | None:
        """This delivery's turn to act on the deployment, or None: a look is already due later (this is a
        duplicate), or another delivery took the turn first."""
        if record.check_after > now + EARLY_TOLERANCE_SECONDS:
            return None
        try:
            response = self._ddb.update_item(
                TableName=self.table,
                Key=self._key(record.deployment_id),
                UpdateExpression="SET checks = :next, check_after = :hold",
                ConditionExpression="checks = :current",
                ExpressionAttributeValues={
                    ":next": {"N": str(record.checks + 1)},
                    ":current": {"N": str(record.checks)},
                    ":hold": {"N": repr(now + hold_seconds)},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return _record(response["Attributes"])

    def update(
        self, deployment_id: str, changes: dict[str, Any], *, status: Status, attempt: int | None = None
    ) -> bool:
        """Apply `changes` if the record is still in `status` (and at destroy `attempt`); False otherwise."""
        names: dict[str, str] = {"#status": "status"}
        values: dict[str, Any] = {":expected": {"S": status}}
        sets, removes = [], []
        for i, (name, value) in enumerate(changes.items()):
            names[f"#f{i}"] = name
            if value is None:
                removes.append(f"#f{i}")
            else:
                values[f":v{i}"] = _value(value)
                sets.append(f"#f{i} = :v{i}")
        condition = "#status = :expected"
        if attempt is not None:
            condition += " AND destroy_attempt = :attempt"
            values[":attempt"] = {"N": str(attempt)}
        expression = ("SET " + ", ".join(sets) if sets else "") + (" REMOVE " + ", ".join(removes) if removes else "")
        try:
            self._ddb.update_item(
                TableName=self.table,
                Key=self._key(deployment_id),
                UpdateExpression=expression.strip(),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    def begin_destroy(self, deployment_id: str, attempt: int, now: float) -> DeploymentRecord | None:
        """Move to destroy `attempt` (from deployed, failed or a failed destroy); None if the record is elsewhere."""
        try:
            response = self._ddb.update_item(
                TableName=self.table,
                Key=self._key(deployment_id),
                UpdateExpression=(
                    "SET #status = :destroying, destroy_attempt = :n, destroy_started_at = :now, check_after = :zero"
                ),
                ConditionExpression="#status IN (:deployed, :failed, :destroy_failed) AND destroy_attempt < :n",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":destroying": {"S": "destroying"},
                    ":deployed": {"S": "deployed"},
                    ":failed": {"S": "failed"},
                    ":destroy_failed": {"S": "destroy_failed"},
                    ":n": {"N": str(attempt)},
                    ":now": {"N": repr(now)},
                    ":zero": {"N": "0"},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return _record(response["Attributes"])
