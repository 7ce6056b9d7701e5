"""Publishing events to a service's own SNS topic."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from snapinfra_shared import tracing
from snapinfra_shared.events import Envelope

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    pass


class Publisher:
    """Publishes envelopes to one topic. botocore's standard retry mode retries throttling and
    transient errors; what still fails raises, so the caller's outbox or queue retries it later."""

    def __init__(self, sns: Any, topic_arn: str):
        self._sns = sns
        self.topic_arn = topic_arn

    def publish(self, event: Envelope) -> None:
        self._sns.publish(
            TopicArn=self.topic_arn,
            Message=event.model_dump_json(),
            MessageAttributes=tracing.inject(event.message_attributes()),
        )
        log.info("published", extra={"event_type": event.type, "event_id": str(event.id)})

    def publish_many(self, events: Sequence[Envelope]) -> None:
        """Publish in batches of ten; raises PublishError naming what failed after the rest went out."""
        failed: list[str] = []
        for start in range(0, len(events), 10):
            chunk = events[start : start + 10]
            response = self._sns.publish_batch(
                TopicArn=self.topic_arn,
                PublishBatchRequestEntries=[
                    {
                        "Id": str(i),
                        "Message": event.model_dump_json(),
                        "MessageAttributes": tracing.inject(event.message_attributes()),
                    }
                    for i, event in enumerate(chunk)
                ],
            )
            failed += [str(chunk[int(f["Id"])].id) for f in response.get("Failed", [])]
        if failed:
            raise PublishError(f"{len(failed)} events were not published: {', '.join(failed)}")
