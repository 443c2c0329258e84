"""Destination type (the sync YAML's destination.type) -> client class."""

from __future__ import annotations

from orchestration.exports.config import SyncSpec
from orchestration.exports.destinations.base import ConfigurationError
from orchestration.exports.destinations.files import FileDestination
from orchestration.exports.destinations.postgres import PostgresDestination
from orchestration.exports.destinations.vendors import VENDOR_CLIENTS
from orchestration.exports.destinations.webhook import WebhookDestination

CLIENTS = {FileDestination.kind: FileDestination, WebhookDestination.kind: WebhookDestination,
           PostgresDestination.kind: PostgresDestination, **VENDOR_CLIENTS}


def client_class(kind: str):
    if kind not in CLIENTS:
        raise ConfigurationError(f"unknown destination type '{kind}'; types: {', '.join(sorted(CLIENTS))}")
    return CLIENTS[kind]


def create(spec: SyncSpec):
    settings = spec.resolved_destination()
    if settings.get("mode") == "replace":
        # The engine sends the diff, not every row; a replace session fed a diff would shrink the
        # audience to it. The sync's mode: mirror gives the same end state (adds, and removes of
        # what this sync delivered) safely.
        raise ConfigurationError(f"{spec.file}: sync '{spec.name}': destination mode replace is not supported by "
                                 f"the diff engine; use the sync's mode: mirror instead")
    settings = {k: v for k, v in settings.items() if k != "type"}
    cls = client_class(spec.destination_type)
    if hasattr(cls, "from_sync"):
        # A client that needs more of the declaration than its settings (the key's name, the fields).
        return cls.from_sync(settings, spec)
    return cls.from_config(settings, spec.name)
