"""The notifier's handlers. Until notifications are built (see the notifications issue), the notifier
consumes its events and logs each one, so the flow through its queue is visible end to end."""

from __future__ import annotations

from snapinfra_shared.runtime import log_event as record_event

__all__ = ["record_event"]
