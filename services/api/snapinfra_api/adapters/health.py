"""Whether the api's AWS resources answer: its table, its queue and its bucket (for /readyz)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from snapinfra_shared.aws import AwsClients
from snapinfra_shared.runtime import Resources


class AwsHealthProbe:
    def __init__(self, clients: AwsClients, resources: Resources):
        self._clients, self._resources = clients, resources

    def checks(self) -> dict[str, str]:
        clients, resources = self._clients, self._resources
        probes: tuple[tuple[str, Callable[[], Any]], ...] = (
            ("table", lambda: clients.dynamodb.describe_table(TableName=resources.table)),
            (
                "queue",
                lambda: clients.sqs.get_queue_attributes(QueueUrl=resources.queue_url, AttributeNames=["QueueArn"]),
            ),
            # A listing of its own prefix, not HeadBucket: on AWS the api may list only under its prefix.
            ("bucket", lambda: clients.s3.list_objects_v2(Bucket=resources.bucket, Prefix=resources.prefix, MaxKeys=1)),
        )
        checks: dict[str, str] = {}
        for name, probe in probes:
            try:
                probe()
                checks[name] = "ok"
            except Exception as exc:
                checks[name] = f"failed: {type(exc).__name__}: {str(exc)[:200]}"
        return checks
