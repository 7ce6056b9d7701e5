"""The notifier with its real adapters against the embedded AWS, a webhook receiver on 127.0.0.1,
and readers of what the embedded AWS keeps of sent emails and SMS (moto's /moto-api/data.json)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from snapinfra_notifier.adapters.channels import EmailSender, SmsSender
from snapinfra_notifier.adapters.store import NotifierStore
from snapinfra_notifier.adapters.tasks import DeliveryQueue
from snapinfra_notifier.adapters.webhooks import AllowList, WebhookSender
from snapinfra_notifier.bootstrap import build_delivery_handler, build_handlers
from snapinfra_notifier.handlers import Dependencies
from snapinfra_notifier.settings import NotifierSettings
from snapinfra_shared.catalog import SubscriptionFilters, SubscriptionRequested
from snapinfra_shared.consumer import Consumer, ConsumerOptions, Delivery, parse_body
from snapinfra_shared.events import Envelope, new_event
from snapinfra_shared.provision import verify_email_sender
from snapinfra_shared.publisher import Publisher
from snapinfra_shared.runtime import Dispatcher

SENDER = "notifications@example.com"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
CACHE_SECONDS = NotifierSettings.model_fields["subscription_cache_seconds"].default  # as deployed


class Receiver:
    """A webhook endpoint on 127.0.0.1 that answers the scripted statuses in turn (then the last)."""

    def __init__(self, *statuses: int):
        self.statuses = list(statuses) or [200]
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append((dict(self.headers.items()), body))
                status = receiver.statuses[min(len(receiver.requests), len(receiver.statuses)) - 1]
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(*statuses: int) -> Receiver:
        made.append(Receiver(*statuses))
        return made[-1]

    yield make
    for r in made:
        r.close()


class DelaysOnTestTime:
    """The delivery queue as the consumer sees it when the test keeps the time: a retry's delay (the
    visibility timeout a RetryAfter asks for) is recorded, not waited for, and the message is visible
    again at once. The test moves its clock; the notifier's own schedule decides whether an attempt is due."""

    def __init__(self, sqs):
        self._sqs = sqs
        self.delays: list[int] = []

    def __getattr__(self, name):
        return getattr(self._sqs, name)

    def change_message_visibility_batch(self, *, QueueUrl, Entries):
        self.delays += [entry["VisibilityTimeout"] for entry in Entries]
        now = [{**entry, "VisibilityTimeout": 0} for entry in Entries]
        return self._sqs.change_message_visibility_batch(QueueUrl=QueueUrl, Entries=now)


class Notifier:
    """The notifier's handlers and its delivery consumer, wired to a provisioned stack. With a `clock`, the
    notifier measures time by it and the delivery queue waits for nothing (DelaysOnTestTime)."""

    def __init__(
        self,
        stack,
        *,
        schedule=(1.0, 1.0),
        disable_after=86400.0,
        allow=("127.0.0.1",),
        clock=None,
        cache=CACHE_SECONDS,
    ):
        clients = stack.clients
        verify_email_sender(clients, SENDER)
        work = stack.topology.work_queues["notifier"]
        self.delivery_url = clients.sqs.get_queue_url(QueueName=work.name)["QueueUrl"]
        dlq_url = clients.sqs.get_queue_url(QueueName=work.dlq_name)["QueueUrl"]
        self.stack = stack
        self.clock = clock
        on_clock = {"clock": clock} if clock is not None else {}
        self.deps = Dependencies(
            store=NotifierStore(
                clients.dynamodb, stack.topology.tables["notifier"].name, **on_clock, subscription_cache_seconds=cache
            ),
            publisher=Publisher(clients.sns, stack.provisioned["topics"]["notifier"]),
            queue=DeliveryQueue(clients.sqs, self.delivery_url),
            emails=EmailSender(clients.client("ses"), SENDER),
            sms=SmsSender(clients.sns),
            # Generous: the receiver shares two busy cores with the suite, and a timeout would be a failed attempt.
            webhooks=WebhookSender(timeout=15.0, allow=AllowList(list(allow))),
            presign=lambda bucket, key, seconds: clients.s3.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=seconds
            ),
            public_base_url="http://127.0.0.1:5000",
            retry_schedule=tuple(schedule),
            disable_after_seconds=disable_after,
            lease_seconds=30,
            download_link_expiry_seconds=3600,
            **on_clock,
        )
        self.dispatch = Dispatcher(build_handlers(self.deps))
        self.delivery_queue = DelaysOnTestTime(clients.sqs) if clock is not None else clients.sqs
        self.deliveries = Consumer(
            self.delivery_queue,
            queue_url=self.delivery_url,
            dlq_url=dlq_url,
            handle=build_delivery_handler(self.deps),
            options=ConsumerOptions(visibility_timeout=30, max_receive_count=25, wait_time_seconds=1),
        )

    def handle(self, event: Envelope, receive_count: int = 1) -> None:
        self.dispatch(event, Delivery("m", receive_count, 5))

    def subscribe(self, user: str, channel: str, target: str, *, token=None, code=None, **filters) -> str:
        sub_id = str(uuid.uuid4())
        self.handle(self.requested(user, sub_id, channel, target, token=token, code=code, **filters))
        return sub_id

    @staticmethod
    def requested(user: str, sub_id: str, channel: str, target: str, *, token=None, code=None, **filters) -> Envelope:
        from datetime import timedelta

        admin = filters.pop("admin", False)
        return new_event(
            "SubscriptionRequested",
            source="api",
            user_id=user,
            correlation_id="c-sub",
            data=SubscriptionRequested(
                subscription_id=sub_id,
                channel=channel,
                target=target,
                filters=SubscriptionFilters(**filters),
                admin=admin,
                confirmation_token=token,
                confirmation_code=code,
                confirmation_expires_at=_now() + timedelta(minutes=10) if code else None,
                signing_secret=SECRET if channel == "webhook" else None,
                requested_at=_now(),
            ),
        )

    def run_deliveries(self, until, timeout: float = 30.0) -> None:
        """Poll the delivery queue (retries come back by their visibility timeout) until `until()`."""
        deadline = time.monotonic() + timeout
        while not until():
            assert time.monotonic() < deadline, "deliveries did not settle in time"
            self.deliveries.poll_once()

    def announced(self) -> list[Envelope]:
        """The notifier's events, as the api's queue receives them."""
        return [parse_body(m["Body"]) for m in self.stack.drain("api", wait=0)]


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def moto_store(aws_endpoint: str) -> dict:
    return json.loads(requests.get(f"{aws_endpoint}/moto-api/data.json", timeout=30).text)


def sent_emails(aws_endpoint: str, to: str) -> list[dict]:
    return [m for m in moto_store(aws_endpoint)["ses"].get("Message", []) if to in m["destinations"]["ToAddresses"]]


def sent_sms(aws_endpoint: str, phone: str) -> list[dict]:
    return [m for m in moto_store(aws_endpoint)["sns"].get("SMS", []) if m["phone_number"] == phone]


@pytest.fixture
def make_notifier(stack):
    return lambda **options: Notifier(stack, **options)


@pytest.fixture
def emails_to(aws_endpoint):
    return lambda to: sent_emails(aws_endpoint, to)


@pytest.fixture
def sms_to(aws_endpoint):
    return lambda phone: sent_sms(aws_endpoint, phone)
