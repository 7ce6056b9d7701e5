"""/api/notifications: subscribe by email, SMS or webhook, confirm, list, unsubscribe, and the
record of every delivery attempt."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, g, request
from flask.typing import ResponseReturnValue

from snapinfra_api.adapters.subscriptions import InvalidCursor, SubscriptionRecord
from snapinfra_api.contract import documented
from snapinfra_api.errors import ApiError, api_error_response
from snapinfra_api.notification_schemas import (
    ConfirmationOut,
    ConfirmQuery,
    DeliveriesQuery,
    DeliveryOut,
    DeliveryPage,
    ListSubscriptionsQuery,
    SubscribeEmail,
    SubscribeSms,
    SubscribeWebhook,
    SubscriptionCreatedOut,
    SubscriptionOut,
    SubscriptionPage,
    UnsubscribeQuery,
    _Filters,
)
from snapinfra_api.notifications import ConfirmationNotFound, SubscriptionNotFound
from snapinfra_api.routes.common import authenticate, caller, deps, json_body, query_args
from snapinfra_shared.catalog import Channel, SubscriptionFilters

bp = Blueprint("notifications", __name__, url_prefix="/api/notifications")
PUBLIC = {"notifications.confirm"}  # followed from an email, with the token as the credential


@bp.before_request
def _authenticate() -> None:
    if request.endpoint not in PUBLIC:
        authenticate()


@bp.errorhandler(SubscriptionNotFound)
def _not_found(exc: SubscriptionNotFound) -> ResponseReturnValue:
    return api_error_response(ApiError(404, "not_found", f"no subscription {exc.args[0]!r}"))


@bp.errorhandler(ConfirmationNotFound)
def _no_confirmation(exc: ConfirmationNotFound) -> ResponseReturnValue:
    return api_error_response(ApiError(404, "not_found", str(exc)))


def _out(sub: SubscriptionRecord, secret: str | None = None) -> SubscriptionCreatedOut:
    return SubscriptionCreatedOut(
        id=sub.id,
        channel=sub.channel,
        target=sub.target,
        status=sub.status,
        event_types=sub.event_types,
        statuses=sub.statuses,
        project_id=sub.project_id,
        admin=sub.admin,
        created_at=sub.created_at,
        secret=secret,
    )


def _subscribe(channel: Channel, target: str, body: _Filters, field: str) -> ResponseReturnValue:
    principal = caller()
    if body.admin and not principal.is_admin:
        fields = [{"field": "admin", "message": "admins only"}]
        raise ApiError(403, "forbidden", "only admins may receive system alerts", fields)
    if channel == "webhook" and urlsplit(target).scheme != "https":
        hostname = (urlsplit(target).hostname or "").lower()
        if hostname not in {h.lower().strip("[]") for h in deps().settings.webhook_allowed_hosts}:
            message = "use an https URL (plain http only to the hosts in SNAPINFRA_WEBHOOK_ALLOWED_HOSTS)"
            raise ApiError(422, "validation_error", message, [{"field": field, "message": message}])
    created = deps().notifications.subscribe(
        user_id=principal.user_id,
        channel=channel,
        target=target,
        filters=SubscriptionFilters(event_types=body.event_types, statuses=body.statuses, project_id=body.project_id),
        admin=body.admin,
        correlation_id=g.request_id,
    )
    return _out(created.subscription, created.secret).wire(), 201


@bp.post("/subscribe")
@documented(
    "Subscribe an email address (the guide's form)",
    tag="notifications",
    body=SubscribeEmail,
    responses={201: SubscriptionCreatedOut},
    errors=(403,),
)
def subscribe() -> ResponseReturnValue:
    body = json_body(SubscribeEmail)
    return _subscribe("email", str(body.email), body, "email")


@bp.post("/subscribe/email")
@documented(
    "Subscribe an email address",
    tag="notifications",
    body=SubscribeEmail,
    responses={201: SubscriptionCreatedOut},
    errors=(403,),
)
def subscribe_email() -> ResponseReturnValue:
    body = json_body(SubscribeEmail)
    return _subscribe("email", str(body.email), body, "email")


@bp.post("/subscribe/sms")
@documented(
    "Subscribe a phone number (SMS)",
    tag="notifications",
    body=SubscribeSms,
    responses={201: SubscriptionCreatedOut},
    errors=(403,),
)
def subscribe_sms() -> ResponseReturnValue:
    body = json_body(SubscribeSms)
    return _subscribe("sms", body.phone, body, "phone")


@bp.post("/subscribe/webhook")
@documented(
    "Subscribe a webhook; the answer holds its signing secret, once",
    tag="notifications",
    body=SubscribeWebhook,
    responses={201: SubscriptionCreatedOut},
    errors=(403,),
)
def subscribe_webhook() -> ResponseReturnValue:
    body = json_body(SubscribeWebhook)
    return _subscribe("webhook", str(body.url), body, "url")


@bp.get("/confirm")
@documented(
    "Confirm an email subscription (the link in its confirmation email)",
    tag="notifications",
    query=ConfirmQuery,
    responses={200: ConfirmationOut},
    errors=(404,),
    public=True,
)
def confirm() -> ResponseReturnValue:
    query = query_args(ConfirmQuery)
    subscription_id = deps().notifications.confirm(query.token, g.request_id)
    return ConfirmationOut(subscription_id=subscription_id, status="confirmed").wire()


@bp.get("/subscriptions")
@documented(
    "The caller's subscriptions, newest first",
    tag="notifications",
    query=ListSubscriptionsQuery,
    responses={200: SubscriptionPage},
)
def subscriptions() -> ResponseReturnValue:
    query = query_args(ListSubscriptionsQuery)
    try:
        items, cursor = deps().notifications.page(caller().user_id, limit=query.limit, cursor=query.cursor)
    except InvalidCursor as exc:
        raise ApiError(400, "invalid_query", str(exc), [{"field": "cursor", "message": str(exc)}]) from exc
    page = SubscriptionPage(
        items=[SubscriptionOut(**_out(s).model_dump(exclude={"secret"})) for s in items], next_cursor=cursor
    )
    return page.wire()


@bp.delete("/unsubscribe")
@documented(
    "Unsubscribe (by subscription id)",
    tag="notifications",
    query=UnsubscribeQuery,
    responses={204: None},
    errors=(404,),
)
def unsubscribe() -> ResponseReturnValue:
    query = query_args(UnsubscribeQuery)
    deps().notifications.unsubscribe(caller().user_id, query.id, g.request_id)
    return "", 204


@bp.get("/deliveries")
@documented(
    "Every delivery attempt to the caller's subscriptions, newest first",
    tag="notifications",
    query=DeliveriesQuery,
    responses={200: DeliveryPage},
)
def deliveries() -> ResponseReturnValue:
    query = query_args(DeliveriesQuery)
    try:
        items, cursor = deps().notifications.deliveries(
            caller().user_id, limit=query.limit, cursor=query.cursor, subscription_id=query.subscription_id
        )
    except InvalidCursor as exc:
        raise ApiError(400, "invalid_query", str(exc), [{"field": "cursor", "message": str(exc)}]) from exc
    return DeliveryPage(items=[_delivery(a) for a in items], next_cursor=cursor).wire()


def _delivery(attempt: dict[str, Any]) -> DeliveryOut:
    return DeliveryOut(
        id=attempt["delivery_id"],
        subscription_id=attempt["subscription_id"],
        event_id=attempt["event_id"],
        event_type=attempt["event_type"],
        channel=attempt["channel"],
        attempt=attempt["attempt"],
        outcome=attempt["outcome"],
        http_status=attempt["http_status"],
        latency_ms=attempt["latency_ms"],
        error=attempt["error"],
        at=attempt["at"],
    )
