"""The api's own table: the jobs read model and the outbox of events not yet published.

Keys: a job is `pk=USER#<user>`, `sk=CODEGEN#<job id>` (ids are UUIDv7, so they sort by creation);
index gsi1 holds `USER#<user>#PROJECT#<project>` for the projectId filter.

The outbox: an event not yet known to have arrived carries `outbox_pk=OUTBOX`,
`outbox_sk=<due time>#<event id>` and `outbox_event` (the sparse index `outbox` lists them).
A new job carries its CodeGenerationRequested on its own item, written by one conditional put (no
transaction), and the first codegen event the projection applies clears it: that event proves the
request arrived. A deletion's event sits on an item of its own (`pk=OUTBOX#<event id>`), written in
one transaction with the delete, and is deleted once published.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from snapinfra_api.adapters.table import (
    OUTBOX_PK,
    decode_cursor,
    encode_cursor,
    outbox_attributes,
    outbox_item_written,
    standalone_outbox_key,
)
from snapinfra_api.codegen.model import STATUS_RANK, CodeGenJob, Status
from snapinfra_shared.catalog import Artifact
from snapinfra_shared.conditional import cancelled_item, put_new
from snapinfra_shared.events import Envelope
from snapinfra_shared.spec import ProjectSpec


@dataclass(frozen=True)
class Page:
    items: list[CodeGenJob]
    next_cursor: str | None


def _user_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def _job_sk(job_id: str) -> str:
    return f"CODEGEN#{job_id}"


@dataclass(frozen=True)
class OutboxEntry:
    """An event waiting in the outbox, and the item that holds it."""

    key: dict[str, Any]
    event: Envelope

    @property
    def standalone(self) -> bool:
        return bool(self.key["pk"]["S"].startswith(f"{OUTBOX_PK}#"))


def _s(value: str | None) -> dict[str, str] | None:
    return {"S": value} if value is not None else None


def _job_item(job: CodeGenJob) -> dict[str, Any]:
    item = {
        "pk": _s(_user_pk(job.user_id)),
        "sk": _s(_job_sk(job.id)),
        "gsi1pk": _s(f"{_user_pk(job.user_id)}#PROJECT#{job.project_id}"),
        "gsi1sk": _s(_job_sk(job.id)),
        "job_id": _s(job.id),
        "user_id": _s(job.user_id),
        "project_id": _s(job.project_id),
        "type": _s(job.type),
        "prompt": _s(job.prompt),
        "spec": _s(job.spec.model_dump_json()),
        "spec_source": _s(job.spec_source),
        "status": _s(job.status),
        "status_rank": {"N": str(job.status_rank)},
        "created_at": _s(job.created_at.isoformat()),
        "updated_at": _s(job.updated_at.isoformat()),
    }
    return {k: v for k, v in item.items() if v is not None}


# What a job's creation writes and nothing changes afterwards: the same values are this request's own write.
_CREATED = ("job_id", "user_id", "project_id", "type", "prompt", "spec", "spec_source", "created_at")


def _job(item: dict[str, Any]) -> CodeGenJob:
    def opt(name: str) -> str | None:
        return item[name]["S"] if name in item else None

    def when(name: str) -> datetime | None:
        value = opt(name)
        return datetime.fromisoformat(value) if value else None

    artifact = opt("artifact")
    return CodeGenJob(
        id=item["job_id"]["S"],
        user_id=item["user_id"]["S"],
        project_id=item["project_id"]["S"],
        type=item["type"]["S"],
        prompt=item["prompt"]["S"],
        spec=ProjectSpec.model_validate_json(item["spec"]["S"]),
        spec_source=item["spec_source"]["S"],
        status=item["status"]["S"],
        created_at=datetime.fromisoformat(item["created_at"]["S"]),
        updated_at=datetime.fromisoformat(item["updated_at"]["S"]),
        started_at=when("started_at"),
        completed_at=when("completed_at"),
        artifact=Artifact.model_validate_json(artifact) if artifact else None,
        reason=opt("reason"),
        attempts=int(item["attempts"]["N"]) if "attempts" in item else 0,
    )


class JobRepository:
    def __init__(self, dynamodb: Any, table: str):
        self._ddb = dynamodb
        self.table = table

    # -- writes that carry an event: one transaction, so an accepted job is never lost --------

    def add(self, job: CodeGenJob, event: Envelope) -> None:
        """The job and its event in one item, so one write accepts both. A retried write that meets the
        job it wrote itself succeeded; any other job under this key is a conflict and raises."""
        item = {**_job_item(job), **outbox_attributes(event)}
        put_new(self._ddb, self.table, item, _CREATED)

    def remove(self, user_id: str, job_id: str, event: Envelope) -> bool:
        """False when there is no such job of this user."""
        try:
            self._ddb.transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": {"pk": {"S": _user_pk(user_id)}, "sk": {"S": _job_sk(job_id)}},
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {**standalone_outbox_key(event), **outbox_attributes(event)},
                        }
                    },
                ]
            )
            return True
        except ClientError as exc:
            if cancelled_item(exc, 0) is None:
                raise
            # Gone: deleted by someone else, or by this very transaction if botocore retried it after it
            # was applied; its outbox item (keyed by this call's event) tells which.
            return outbox_item_written(self._ddb, self.table, event)

    # -- the outbox ---------------------------------------------------------------------------

    def outbox_due(self, older_than: datetime, limit: int = 50) -> list[OutboxEntry]:
        response = self._ddb.query(
            TableName=self.table,
            IndexName="outbox",
            KeyConditionExpression="outbox_pk = :pk AND outbox_sk < :before",
            ExpressionAttributeValues={":pk": {"S": OUTBOX_PK}, ":before": {"S": older_than.isoformat()}},
            Limit=limit,
        )
        return [
            OutboxEntry({"pk": item["pk"], "sk": item["sk"]}, Envelope.model_validate_json(item["outbox_event"]["S"]))
            for item in response.get("Items", [])
        ]

    def outbox_postpone(self, entry: OutboxEntry, due: datetime) -> None:
        """Republished, but not yet known to have arrived: due again at `due`, unless settled first."""
        try:
            self._ddb.update_item(
                TableName=self.table,
                Key=entry.key,
                UpdateExpression="SET outbox_sk = :due",
                ConditionExpression="attribute_exists(outbox_pk)",
                ExpressionAttributeValues={":due": outbox_attributes(entry.event, due)["outbox_sk"]},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise  # otherwise it was settled (or the job deleted) meanwhile: nothing to postpone

    def outbox_delete_standalone(self, events: list[Envelope]) -> None:
        for start in range(0, len(events), 25):
            requests = [
                {"DeleteRequest": {"Key": standalone_outbox_key(event)}} for event in events[start : start + 25]
            ]
            pending: dict[str, Any] = {self.table: requests}
            while pending:
                pending = self._ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    # -- reads --------------------------------------------------------------------------------

    def get(self, user_id: str, job_id: str) -> CodeGenJob | None:
        item = self._ddb.get_item(
            TableName=self.table, Key={"pk": {"S": _user_pk(user_id)}, "sk": {"S": _job_sk(job_id)}}
        ).get("Item")
        return _job(item) if item else None

    def list(self, user_id: str, *, limit: int, cursor: str | None, project_id: str | None) -> Page:
        """The user's jobs, newest first: a Query on the table or on gsi1, never a scan."""
        if project_id is None:
            query: dict[str, Any] = {
                "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
                "ExpressionAttributeValues": {":pk": {"S": _user_pk(user_id)}, ":prefix": {"S": "CODEGEN#"}},
            }
            partition = ("pk", _user_pk(user_id))
        else:
            gsi_pk = f"{_user_pk(user_id)}#PROJECT#{project_id}"
            query = {
                "IndexName": "gsi1",
                "KeyConditionExpression": "gsi1pk = :pk AND begins_with(gsi1sk, :prefix)",
                "ExpressionAttributeValues": {":pk": {"S": gsi_pk}, ":prefix": {"S": "CODEGEN#"}},
            }
            partition = ("gsi1pk", gsi_pk)
        if cursor:
            query["ExclusiveStartKey"] = decode_cursor(cursor, partition)
        response = self._ddb.query(TableName=self.table, ScanIndexForward=False, Limit=limit, **query)
        last = response.get("LastEvaluatedKey")
        return Page([_job(i) for i in response.get("Items", [])], encode_cursor(last) if last else None)

    # -- the projection of codegen events: monotonic, so replays and reordering are harmless ---

    def advance(
        self, user_id: str, job_id: str, status: Status, at: datetime, fields: dict[str, Any] | None = None
    ) -> bool:
        """Move a job to `status` with `fields`, unless it is gone or already as far or further."""
        values: dict[str, Any] = {
            ":status": {"S": status},
            ":rank": {"N": str(STATUS_RANK[status])},
            ":at": {"S": at.isoformat()},
        }
        sets = ["#status = :status", "status_rank = :rank", "updated_at = :at"]
        for i, (name, value) in enumerate((fields or {}).items()):
            values[f":f{i}"] = value
            sets.append(f"{name} = :f{i}")
        try:
            self._ddb.update_item(
                TableName=self.table,
                Key={"pk": {"S": _user_pk(user_id)}, "sk": {"S": _job_sk(job_id)}},
                # Any codegen event proves the request arrived: the job's outbox entry is settled.
                UpdateExpression="SET " + ", ".join(sets) + " REMOVE outbox_pk, outbox_sk, outbox_event",
                ConditionExpression="attribute_exists(pk) AND status_rank < :rank",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
            )
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
