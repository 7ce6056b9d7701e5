"""The deployer's handlers. Until deployments are built (see the deployments issue), the deployer
consumes its events and logs each one, so the flow through its queue is visible end to end."""

from __future__ import annotations

from snapinfra_shared.runtime import log_event as record_event

__all__ = ["record_event"]
