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
    cls = client_class(spec.destination_type)
    if settings.get("mode") == "replace" and not getattr(cls, "supports_replace", False):
        raise ConfigurationError(f"{spec.file}: sync '{spec.name}': destination {spec.destination_type} has no "
                                 f"replace mode (meta_custom_audience and google_ads_customer_match do); remove "
                                 f"mode: replace (the sync's mode: mirror removes what it delivered)")
    settings = {k: v for k, v in settings.items() if k != "type"}
    if hasattr(cls, "from_sync"):
        # A client that needs more of the declaration than its settings (the key's name, the fields).
        return cls.from_sync(settings, spec)
    return cls.from_config(settings, spec.name)
