"""/api/notifications: subscribe by email, SMS or webhook, confirm (an email's link, an SMS code), list,
unsubscribe, and the record of every delivery attempt. Subscribing and confirming take from the caller's
`subscriptions` token bucket; the use cases add the per-target allowance, the cap and the one-target rule."""

from __future__ import annotations

import math
import uuid
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, g, make_response, request
from flask.typing import ResponseReturnValue

from snapinfra_api.http.contract import documented
from snapinfra_api.http.errors import ApiError, api_error_response
from snapinfra_api.http.limits import charge, rate_limited
from snapinfra_api.http.request import authenticate, caller, deps, json_body, query_args
from snapinfra_api.notifications.schemas import (
    CodeSentOut,
    ConfirmationOut,
    ConfirmCode,
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
from snapinfra_api.notifications.store import InvalidCursor, SubscriptionRecord
from snapinfra_api.notifications.use_cases import (
    CodeExhausted,
    CodeExpired,
    ConfirmationNotFound,
    DuplicateTarget,
    NoCodeToConfirm,
    SubscriptionNotFound,
    TargetRateLimited,
    TooManySubscriptions,
    WrongCode,
)
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


@bp.errorhandler(TargetRateLimited)
def _target_limited(exc: TargetRateLimited) -> ResponseReturnValue:
    wait = max(1, math.ceil(exc.args[0]))
    policy = deps().notifications.policy
    message = (
        f"this address or number was sent {policy.confirmations_per_target} confirmation messages in the last "
        f"{policy.confirmation_window_seconds} s, the most allowed whoever asks; try again in {wait} s"
    )
    return api_error_response(ApiError(429, "target_rate_limited", message, headers={"Retry-After": str(wait)}))


@bp.errorhandler(TooManySubscriptions)
def _cap(exc: TooManySubscriptions) -> ResponseReturnValue:
    message = f"you have {exc.args[0]} subscriptions, the most allowed: unsubscribe one first"
    return api_error_response(ApiError(409, "too_many_subscriptions", message))


@bp.errorhandler(NoCodeToConfirm)
def _no_code(exc: NoCodeToConfirm) -> ResponseReturnValue:
    how = {"email": "an email subscription is confirmed by the link mailed to it", "webhook": "webhooks need none"}
    reason = how.get(exc.args[0], "it is confirmed already, or was made before SMS codes")
    return api_error_response(ApiError(409, "no_code_pending", f"this subscription awaits no SMS code: {reason}"))


def _subscription_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ApiError(404, "not_found", f"no subscription {value!r}") from None


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
    try:
        created = deps().notifications.subscribe(
            user_id=principal.user_id,
            channel=channel,
            target=target,
            filters=SubscriptionFilters(
                event_types=body.event_types, statuses=body.statuses, project_id=body.project_id
            ),
            admin=body.admin,
            correlation_id=g.request_id,
        )
    except DuplicateTarget as exc:
        message = f"you already subscribed this {field}: subscription {exc.args[0]}"
        raise ApiError(409, "duplicate_subscription", message, [{"field": field, "message": message}]) from exc
    return _out(created.subscription, created.secret).wire(), 201


@bp.post("/subscribe")
@documented(
    "Subscribe an email address (the guide's form)",
    tag="notifications",
    body=SubscribeEmail,
    responses={201: SubscriptionCreatedOut},
    errors=(403, 409),
)
@rate_limited("subscriptions")
def subscribe() -> ResponseReturnValue:
    body = json_body(SubscribeEmail)
    return _subscribe("email", str(body.email), body, "email")


@bp.post("/subscribe/email")
@documented(
    "Subscribe an email address",
    tag="notifications",
    body=SubscribeEmail,
    responses={201: SubscriptionCreatedOut},
    errors=(403, 409),
)
@rate_limited("subscriptions")
def subscribe_email() -> ResponseReturnValue:
    body = json_body(SubscribeEmail)
    return _subscribe("email", str(body.email), body, "email")


@bp.post("/subscribe/sms")
@documented(
    "Subscribe a phone number (SMS); a 6-digit code is texted to it, to confirm within minutes",
    tag="notifications",
    body=SubscribeSms,
    responses={201: SubscriptionCreatedOut},
    errors=(403, 409),
)
@rate_limited("subscriptions")
def subscribe_sms() -> ResponseReturnValue:
    body = json_body(SubscribeSms)
    return _subscribe("sms", body.phone, body, "phone")


@bp.post("/subscribe/webhook")
@documented(
    "Subscribe a webhook; the answer holds its signing secret, once",
    tag="notifications",
    body=SubscribeWebhook,
    responses={201: SubscriptionCreatedOut},
    errors=(403, 409),
)
@rate_limited("subscriptions")
def subscribe_webhook() -> ResponseReturnValue:
    body = json_body(SubscribeWebhook)
    return _subscribe("webhook", str(body.url), body, "url")


@bp.get("/confirm")
@documented(
    "Confirm an email subscription (the link in its confirmation email)",
    tag="notifications",
    query=ConfirmQuery,
    responses={200: ConfirmationOut},
    errors=(404, 429),
    public=True,
)
def confirm() -> ResponseReturnValue:
    query = query_args(ConfirmQuery)
    notifications = deps().notifications
    owner = notifications.owner_of_confirmation(query.token)
    headers = charge(owner, "subscriptions") if owner else {}  # the token is the credential; its owner pays
    subscription_id = notifications.confirm(query.token, g.request_id)
    response = make_response(ConfirmationOut(subscription_id=subscription_id, status="confirmed").wire())
    response.headers.update(headers)
    return response


@bp.post("/subscriptions/<subscription_id>/confirm")
@documented(
    "Confirm an SMS subscription with the code texted to it",
    tag="notifications",
    body=ConfirmCode,
    responses={200: ConfirmationOut},
    errors=(404, 409, 410),
)
@rate_limited("subscriptions")
def confirm_code(subscription_id: str) -> ResponseReturnValue:
    subscription_id = _subscription_id(subscription_id)
    body = json_body(ConfirmCode)
    policy = deps().notifications.policy
    resend = f"ask for a new one: POST /api/notifications/subscriptions/{subscription_id}/resend"
    try:
        deps().notifications.confirm_code(caller().user_id, subscription_id, body.code, g.request_id)
    except CodeExpired as exc:
        message = f"the code expired at {exc.args[0].isoformat()}; {resend}"
        raise ApiError(410, "code_expired", message, [{"field": "code", "message": "expired"}]) from exc
    except CodeExhausted as exc:
        message = f"{policy.code_max_attempts} attempts were made at this code, the most allowed; {resend}"
        raise ApiError(410, "code_exhausted", message, [{"field": "code", "message": "no attempts left"}]) from exc
    except WrongCode as exc:
        left = exc.args[0]
        message = f"wrong code; {left} attempts left" if left else f"wrong code, and the last attempt; {resend}"
        raise ApiError(422, "wrong_code", message, [{"field": "code", "message": "wrong code"}]) from exc
    return ConfirmationOut(subscription_id=subscription_id, status="confirmed").wire()


@bp.post("/subscriptions/<subscription_id>/resend")
@documented(
    "Text a pending SMS subscription a new code (the previous one stops working)",
    tag="notifications",
    responses={202: CodeSentOut},
    errors=(404, 409),
)
@rate_limited("subscriptions")
def resend_code(subscription_id: str) -> ResponseReturnValue:
    subscription_id = _subscription_id(subscription_id)
    expires_at = deps().notifications.resend_code(caller().user_id, subscription_id, g.request_id)
    return CodeSentOut(subscription_id=subscription_id, expires_at=expires_at).wire(), 202


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
