"""Destination type -> client class. Marketing APIs register here as they are added."""

from __future__ import annotations

import importlib

from orchestration.exports.config import SyncSpec
from orchestration.exports.destinations.base import ConfigurationError

# type in the sync YAML -> "module:Class" under orchestration.exports.destinations
CLIENTS = {
    "file": "files:FileDestination",
    "webhook": "webhook:WebhookDestination",
    "postgres": "postgres:PostgresDestination",
    "klaviyo": "klaviyo:KlaviyoDestination",
    "meta": "meta:MetaCustomAudienceDestination",
    "google_ads": "google_ads:GoogleAdsCustomerMatchDestination",
    "hubspot": "hubspot:HubSpotDestination",
    "salesforce": "salesforce:SalesforceDestination",
}


def client_class(kind: str):
    if kind not in CLIENTS:
        raise ConfigurationError(f"unknown destination type '{kind}'; types: {', '.join(sorted(CLIENTS))}")
    module_name, class_name = CLIENTS[kind].split(":")
    try:
        module = importlib.import_module(f"orchestration.exports.destinations.{module_name}")
    except ModuleNotFoundError as exc:
        raise ConfigurationError(f"destination type '{kind}' is not available in this version ({exc})") from exc
    return getattr(module, class_name)


def create(spec: SyncSpec):
    cls = client_class(spec.destination_type)
    return cls.from_config(spec.resolved_destination(), spec.name)
