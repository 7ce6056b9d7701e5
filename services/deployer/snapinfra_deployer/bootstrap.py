"""Wires the deployer service: each event it consumes, bound to its handler."""

from __future__ import annotations

from collections.abc import Mapping

from snapinfra_deployer.handlers import record_event
from snapinfra_shared.catalog import CATALOG
from snapinfra_shared.runtime import EventHandler


def build_handlers() -> Mapping[str, EventHandler]:
    return {spec.type: record_event for spec in CATALOG.values() if "deployer" in spec.consumers}
