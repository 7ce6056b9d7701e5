"""Building boto3 clients the same way in every service, and counting the AWS calls they make."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from prometheus_client import Counter

AWS_CALLS = Counter(
    "snapinfra_aws_calls",
    "AWS API calls made, by AWS service and operation (retries of one call count once)",
    ["aws_service", "operation"],
)


def _count_call(model: Any, **_: Any) -> None:
    AWS_CALLS.labels(model.service_model.service_name, model.name).inc()


class AwsClients:
    """One boto3 session and a client per AWS service, shared by the threads of a process."""

    def __init__(self, *, max_attempts: int = 5, s3_addressing_style: str = "auto", region: str | None = None):
        self._session = boto3.session.Session(region_name=region)
        self._config = Config(
            retries={"mode": "standard", "max_attempts": max_attempts},
            s3={"addressing_style": s3_addressing_style},  # type: ignore[arg-type]
            max_pool_connections=50,
            connect_timeout=5,
            read_timeout=30,
        )
        self._clients: dict[str, Any] = {}

    @property
    def region(self) -> str:
        return self._session.region_name or "us-east-1"

    def client(self, name: str) -> Any:
        if name not in self._clients:
            client = self._session.client(name, config=self._config)  # type: ignore[call-overload]
            client.meta.events.register("before-call", _count_call)
            self._clients[name] = client
        return self._clients[name]

    @property
    def sqs(self) -> Any:
        return self.client("sqs")

    @property
    def sns(self) -> Any:
        return self.client("sns")

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    @cache  # noqa: B019 - one lookup per process; the clients object lives as long as the process
    def account_id(self) -> str:
        return str(self.client("sts").get_caller_identity()["Account"])

    def topic_arn(self, name: str) -> str:
        """A topic's ARN without needing sns:ListTopics or CreateTopic (GetCallerIdentity needs no grant)."""
        partition = self._session.get_partition_for_region(self.region)
        return f"arn:{partition}:sns:{self.region}:{self.account_id()}:{name}"

    @classmethod
    def from_settings(cls, settings: Any) -> AwsClients:
        return cls(max_attempts=settings.aws_max_attempts, s3_addressing_style=settings.s3_addressing_style)
