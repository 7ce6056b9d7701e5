"""Which subscriptions an event goes to: the user's own, active, whose filters it passes."""

from __future__ import annotations

from fnmatch import fnmatchcase

from snapinfra_notifier.adapters.store import Subscription


def wants(sub: Subscription, kind: str, project_id: str | None) -> bool:
    """True when `sub` asked for this kind of event of this project (an empty filter asks for all)."""
    if sub.status != "active":
        return False
    if sub.event_types and not any(fnmatchcase(kind, pattern) for pattern in sub.event_types):
        return False
    if sub.statuses and kind.split(".", 1)[1] not in sub.statuses:
        return False
    return not (sub.project_id and sub.project_id != project_id)
