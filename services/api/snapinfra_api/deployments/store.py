"""Deployments in the api's own table: the read model, its step log, and the outbox of their requests.

Keys: a deployment is `pk=USER#<user>`, `sk=DEPLOYMENT#<id>` (UUIDv7, so newest first in reverse);
gsi1 holds `USER#<user>#PROJECT#<project>` (shared with the jobs, told apart by the sort key prefix),
`deployments_by_status` `USER#<user>#DSTATUS#<status>` and `deployments_by_environment`
`USER#<user>#DENV#<environment>`, so each listing filter is a Query. A step of the log is
`pk=DEPLOYMENT#<id>`, `sk=STEP#<time>#<hash of the step>`: oldest first, and a step delivered twice
is written twice onto the same item.

A request (deploy or destroy) travels in the outbox on the deployment's own item, written by the same
conditional write that accepts it, and is settled by the deployer's first answer to it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from snapinfra_api.adapters.table import decode_cursor, encode_cursor, outbox_attributes
from snapinfra_api.deployments.model import Deployment, DeploymentStatus, Step, status_rank
from snapinfra_shared.conditional import ALL_OLD, holds, item_that_failed, put_new
from snapinfra_shared.events import Envelope

SK_PREFIX = "DEPLOYMENT#"
STEP_PREFIX = "STEP#"


@dataclass(frozen=True)
class DeploymentPage:
    items: list[Deployment]
    next_cursor: str | None


@dataclass(frozen=True)
class StepPage:
    items: list[Step]
    next_cursor: str | None


def _user_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def _key(user_id: str, deployment_id: str) -> dict[str, Any]:
    return {"pk": {"S": _user_pk(user_id)}, "sk": {"S": f"{SK_PREFIX}{deployment_id}"}}


def _status_pk(user_id: str, status: str) -> str:
    return f"{_user_pk(user_id)}#DSTATUS#{status}"


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _item(d: Deployment) -> dict[str, Any]:
    sk = f"{SK_PREFIX}{d.id}"
    item: dict[str, Any] = {
        **_key(d.user_id, d.id),
        "gsi1pk": {"S": f"{_user_pk(d.user_id)}#PROJECT#{d.project_id}"},
        "gsi1sk": {"S": sk},
        "dstatus_pk": {"S": _status_pk(d.user_id, d.status)},
        "dstatus_sk": {"S": sk},
        "denv_pk": {"S": f"{_user_pk(d.user_id)}#DENV#{d.environment}"},
        "denv_sk": {"S": sk},
        "deployment_id": {"S": d.id},
        "user_id": {"S": d.user_id},
        "code_gen_id": {"S": d.code_gen_id},
        "project_id": {"S": d.project_id},
        "environment": {"S": d.environment},
        "status": {"S": d.status},
        "status_rank": {"N": str(status_rank(d.status, d.destroy_attempt))},
        "stack_name": {"S": d.stack_name},
        "outputs": {"S": json.dumps(d.outputs)},
        "destroy_attempt": {"N": str(d.destroy_attempt)},
        "created_at": {"S": d.created_at.isoformat()},
        "updated_at": {"S": d.updated_at.isoformat()},
    }
    if d.region:
        item["region"] = {"S": d.region}
    return item


# What a deployment's creation writes and nothing changes afterwards: the same values are this request's own write.
_CREATED = (
    "deployment_id",
    "user_id",
    "code_gen_id",
    "project_id",
    "environment",
    "stack_name",
    "region",
    "created_at",
)


def _deployment(item: dict[str, Any]) -> Deployment:
    def opt(name: str) -> str | None:
        return item[name]["S"] if name in item else None

    def when(name: str) -> datetime | None:
        value = opt(name)
        return datetime.fromisoformat(value) if value else None

    return Deployment(
        id=item["deployment_id"]["S"],
        user_id=item["user_id"]["S"],
        code_gen_id=item["code_gen_id"]["S"],
        project_id=item["project_id"]["S"],
        environment=item["environment"]["S"],
        status=item["status"]["S"],
        stack_name=item["stack_name"]["S"],
        region=opt("region"),
        created_at=datetime.fromisoformat(item["created_at"]["S"]),
        updated_at=datetime.fromisoformat(item["updated_at"]["S"]),
        outputs=json.loads(opt("outputs") or "{}"),
        error=opt("error"),
        deployed_at=when("deployed_at"),
        destroyed_at=when("destroyed_at"),
        stack_id=opt("stack_id"),
        stack_status=opt("stack_status"),
        destroy_attempt=int(item.get("destroy_attempt", {}).get("N", "0")),
    )


def _step_item(deployment_id: str, step: Step) -> dict[str, Any]:
    document = {
        "at": step.at.isoformat(),
        "source": step.source,
        "message": step.message,
        "logical_id": step.logical_id,
        "resource_type": step.resource_type,
        "status": step.status,
        "reason": step.reason,
    }
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]
    return {
        "pk": {"S": f"DEPLOYMENT#{deployment_id}"},
        "sk": {"S": f"{STEP_PREFIX}{_when(step.at)}#{digest}"},
        "step": {"S": json.dumps(document)},
    }


def _step(item: dict[str, Any]) -> Step:
    document = json.loads(item["step"]["S"])
    return Step(**{**document, "at": datetime.fromisoformat(document["at"])})


class DeploymentRepository:
    def __init__(self, dynamodb: Any, table: str):
        self._ddb = dynamodb
        self.table = table

    # -- requests: the record and its event in one conditional write ---------------------------

    def add(self, deployment: Deployment, event: Envelope) -> None:
        """A retried write that meets the deployment it wrote itself succeeded; any other raises."""
        item = {**_item(deployment), **outbox_attributes(event)}
        put_new(self._ddb, self.table, item, _CREATED)

    def request_destroy(self, deployment: Deployment, event: Envelope, attempt: int, at: datetime) -> bool:
        """Move to `destroying` (attempt n) with its event; False if the deployment moved meanwhile."""
        outbox = outbox_attributes(event)
        try:
            self._ddb.update_item(
                TableName=self.table,
                Key=_key(deployment.user_id, deployment.id),
                UpdateExpression=(
                    "SET #status = :destroying, status_rank = :rank, dstatus_pk = :spk, destroy_attempt = :n, "
                    "updated_at = :at, outbox_pk = :opk, outbox_sk = :osk, outbox_event = :oev"
                ),
                ConditionExpression="#status IN (:deployed, :failed, :destroy_failed) AND destroy_attempt = :prev",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":destroying": {"S": "destroying"},
                    ":rank": {"N": str(status_rank("destroying", attempt))},
                    ":spk": {"S": _status_pk(deployment.user_id, "destroying")},
                    ":n": {"N": str(attempt)},
                    ":prev": {"N": str(attempt - 1)},
                    ":at": {"S": at.isoformat()},
                    ":deployed": {"S": "deployed"},
                    ":failed": {"S": "failed"},
                    ":destroy_failed": {"S": "destroy_failed"},
                    ":opk": outbox["outbox_pk"],
                    ":osk": outbox["outbox_sk"],
                    ":oev": outbox["outbox_event"],
                },
                **ALL_OLD,
            )
            return True
        except ClientError as exc:
            found = item_that_failed(exc)
            if found is None:
                raise
            # botocore retried this very write after it was applied: the item carries this call's event.
            return holds(found, outbox, ["outbox_event"])

    # -- the projection of the deployer's events: monotonic ------------------------------------

    def advance(
        self,
        user_id: str,
        deployment_id: str,
        status: DeploymentStatus,
        at: datetime,
        fields: dict[str, Any] | None = None,
        *,
        destroy_attempt: int = 0,
    ) -> bool:
        """Move to `status` with `fields` unless already as far or further; any answer of the deployer
        that moves it proves the request it answers arrived, so the outbox entry is settled."""
        rank = status_rank(status, destroy_attempt)
        values: dict[str, Any] = {
            ":status": {"S": status},
            ":rank": {"N": str(rank)},
            ":spk": {"S": _status_pk(user_id, status)},
            ":at": {"S": at.isoformat()},
        }
        sets = ["#status = :status", "status_rank = :rank", "dstatus_pk = :spk", "updated_at = :at"]
        names = {"#status": "status"}
        for i, (name, value) in enumerate((fields or {}).items()):
            names[f"#f{i}"] = name  # some names (region) are reserved words
            values[f":f{i}"] = value
            sets.append(f"#f{i} = :f{i}")
        try:
            self._ddb.update_item(
                TableName=self.table,
                Key=_key(user_id, deployment_id),
                UpdateExpression="SET " + ", ".join(sets) + " REMOVE outbox_pk, outbox_sk, outbox_event",
                ConditionExpression="attribute_exists(pk) AND status_rank < :rank",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    def add_steps(self, deployment_id: str, steps: list[Step]) -> None:
        items = {json.dumps(i["sk"]): i for i in (_step_item(deployment_id, s) for s in steps)}
        requests = [{"PutRequest": {"Item": item}} for item in items.values()]
        for start in range(0, len(requests), 25):
            pending: dict[str, Any] = {self.table: requests[start : start + 25]}
            while pending:
                pending = self._ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    # -- reads ----------------------------------------------------------------------------------

    def get(self, user_id: str, deployment_id: str) -> Deployment | None:
        item = self._ddb.get_item(TableName=self.table, Key=_key(user_id, deployment_id)).get("Item")
        return _deployment(item) if item else None

    def list(
        self,
        user_id: str,
        *,
        limit: int,
        cursor: str | None,
        project_id: str | None = None,
        status: str | None = None,
        environment: str | None = None,
    ) -> DeploymentPage:
        """Newest first; a Query on the index of the first filter given, the others filtering it."""
        filters = {"project_id": project_id, "status": status, "environment": environment}
        if project_id is not None:
            index, pk_name, sk_name = "gsi1", "gsi1pk", "gsi1sk"
            pk = f"{_user_pk(user_id)}#PROJECT#{project_id}"
            filters.pop("project_id")
        elif status is not None:
            index, pk_name, sk_name = "deployments_by_status", "dstatus_pk", "dstatus_sk"
            pk = _status_pk(user_id, status)
            filters.pop("status")
        elif environment is not None:
            index, pk_name, sk_name = "deployments_by_environment", "denv_pk", "denv_sk"
            pk = f"{_user_pk(user_id)}#DENV#{environment}"
            filters.pop("environment")
        else:
            index, pk_name, sk_name, pk = "", "pk", "sk", _user_pk(user_id)
        query: dict[str, Any] = {
            "KeyConditionExpression": f"{pk_name} = :pk AND begins_with({sk_name}, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": SK_PREFIX}},
        }
        if index:
            query["IndexName"] = index
        wanted = {name: value for name, value in filters.items() if value is not None}
        if wanted:
            query["FilterExpression"] = " AND ".join(f"#{name} = :{name}" for name in wanted)
            query["ExpressionAttributeNames"] = {f"#{name}": name for name in wanted}
            query["ExpressionAttributeValues"] |= {f":{name}": {"S": value} for name, value in wanted.items()}
        if cursor:
            query["ExclusiveStartKey"] = decode_cursor(cursor, (pk_name, pk))
        response = self._ddb.query(TableName=self.table, ScanIndexForward=False, Limit=limit, **query)
        last = response.get("LastEvaluatedKey")
        items = [_deployment(i) for i in response.get("Items", [])]
        return DeploymentPage(items, encode_cursor(last) if last else None)

    def steps(self, deployment_id: str, *, limit: int, cursor: str | None) -> StepPage:
        """The step log, oldest first."""
        pk = f"DEPLOYMENT#{deployment_id}"
        query: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": STEP_PREFIX}},
        }
        if cursor:
            query["ExclusiveStartKey"] = decode_cursor(cursor, ("pk", pk))
        response = self._ddb.query(TableName=self.table, ScanIndexForward=True, Limit=limit, **query)
        last = response.get("LastEvaluatedKey")
        return StepPage([_step(i) for i in response.get("Items", [])], encode_cursor(last) if last else None)
