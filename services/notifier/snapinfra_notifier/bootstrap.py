"""Wires the notifier service: each event it consumes, bound to its handler."""

from __future__ import annotations

from collections.abc import Mapping

from snapinfra_notifier.handlers import record_event
from snapinfra_shared.catalog import CATALOG
from snapinfra_shared.runtime import EventHandler


def build_handlers() -> Mapping[str, EventHandler]:
    return {spec.type: record_event for spec in CATALOG.values() if "notifier" in spec.consumers}
