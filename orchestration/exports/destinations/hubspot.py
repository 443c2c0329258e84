"""HubSpot CRM: records (contacts by default) upserted by a unique property through
``POST /crm/v3/objects/{object_type}/batch/upsert``, at most 100 inputs a request.

Each input carries the row's value of ``id_property`` (``email`` by default, or any
property whose values HubSpot keeps unique) and its properties. Each input gets an
``objectWriteTraceId`` (its position) so the errors of a 207 Multi-Status answer map back
to their rows; rows the answer does not name succeeded.

Settings: access_token (private app token with crm.objects.contacts.write), id_property,
object_type, base_url, default_phone_country, timeout_seconds.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..normalize import InvalidIdentifier, normalize_email, normalize_phone
from ._http import Http, body_of, retry_after_seconds, short
from .base import BatchRejected, ConfigurationError, Operation, RateLimited, RowResult, required

DEFAULT_BASE_URL = "https://api.hubapi.com"
# Errors worth another try on the next run (HubSpot's categories).
_RETRYABLE_CATEGORIES = {"RATE_LIMITS", "TIMEOUT", "LOCKED", "CONFLICT"}


class HubSpotUpsert:
    kind: ClassVar[str] = "hubspot"
    max_batch_rows: ClassVar[int] = 100
    max_batch_bytes: ClassVar[int | None] = None
    supported_operations: ClassVar[tuple[str, ...]] = ("upsert", "insert", "update")

    def __init__(self, http: Http, *, id_property: str = "email", object_type: str = "contacts",
                 default_phone_country: str = "US"):
        self.http = http
        self.id_property = id_property
        self.object_type = object_type
        self.default_phone_country = default_phone_country

    @classmethod
    def from_config(cls, spec: dict, sync_name: str) -> "HubSpotUpsert":
        token = required(spec, "access_token", sync_name, cls.kind, "${HUBSPOT_PRIVATE_APP_TOKEN}")
        http = Http("hubspot", str(spec.get("base_url") or DEFAULT_BASE_URL),
                    {"Authorization": f"Bearer {token}", "content-type": "application/json"},
                    float(spec.get("timeout_seconds", 30)))
        return cls(http, id_property=str(spec.get("id_property", "email")),
                   object_type=str(spec.get("object_type", "contacts")),
                   default_phone_country=str(spec.get("default_phone_country", "US")))

    def properties(self, payload: dict[str, Any]) -> dict[str, Any]:
        properties = {}
        for name, value in payload.items():
            if value is None:
                continue  # HubSpot clears a property on "", not on a missing key; leave it be
            if name == "email":
                value = normalize_email(value)
            elif name in ("phone", "mobilephone"):
                value = normalize_phone(value, self.default_phone_country)
            properties[name] = value
        return properties

    def send(self, batch: list[Operation]) -> list[RowResult]:
        results: dict[int, RowResult] = {}
        inputs: list[tuple[int, dict]] = []
        for i, op in enumerate(batch):
            if op.op not in self.supported_operations:
                results[i] = RowResult(op.key, False, f"hubspot: operation '{op.op}' is not supported")
                continue
            try:
                properties = self.properties(op.payload)
            except InvalidIdentifier as exc:
                results[i] = RowResult(op.key, False, f"hubspot: {exc}")
                continue
            record_id = properties.get(self.id_property)
            if record_id in (None, ""):
                results[i] = RowResult(op.key, False, f"hubspot: no value for id_property '{self.id_property}'")
                continue
            inputs.append((i, {"idProperty": self.id_property, "id": str(record_id), "properties": properties,
                               "objectWriteTraceId": str(i)}))
        if inputs:
            self._upsert(batch, inputs, results)
        return [results[i] for i in range(len(batch))]

    def _upsert(self, batch, inputs, results) -> None:
        response = self.http.request("POST", f"/crm/v3/objects/{self.object_type}/batch/upsert",
                                     json={"inputs": [item for _, item in inputs]})
        if response.status_code == 429:
            raise RateLimited(self._retry_after(response), f"hubspot: {short(body_of(response), 200)}")
        self.http.raise_for_whole_request(response, auth_hint="check access_token (a private app token with the "
                                                              "crm.objects.contacts.write scope)")
        body = body_of(response)
        if response.status_code not in (200, 201, 207):
            message = body.get("message") if isinstance(body, dict) else short(body)
            if response.status_code == 404:
                raise ConfigurationError(f"hubspot: object type '{self.object_type}' not found: {message}")
            raise BatchRejected(f"hubspot: HTTP {response.status_code}: {message}")
        by_trace = {item["objectWriteTraceId"]: n for n, (_, item) in enumerate(inputs)}
        by_id = {item["id"].lower(): n for n, (_, item) in enumerate(inputs)}
        failed: dict[int, RowResult] = {}
        for error in body.get("errors", []) if isinstance(body, dict) else []:
            context = error.get("context") or {}
            rows = [by_trace[t] for t in context.get("objectWriteTraceId", []) if t in by_trace]
            rows += [by_id[str(v).lower()] for v in context.get("ids", []) + context.get("id", [])
                     if str(v).lower() in by_id]
            message = f"hubspot: {error.get('category', '')}: {error.get('message', '')}".strip()
            for n in rows:
                failed[n] = RowResult(batch[inputs[n][0]].key, False, message,
                                      retryable=error.get("category") in _RETRYABLE_CATEGORIES)
        for n, (i, _) in enumerate(inputs):
            results[i] = failed.get(n) or RowResult(batch[i].key, True)

    @staticmethod
    def _retry_after(response) -> float:
        """Retry-After if sent; else the rolling window HubSpot names when none remain."""
        if response.headers.get("Retry-After"):
            return retry_after_seconds(response, 10.0)
        interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
        try:
            return float(interval) / 1000.0 if interval else 10.0
        except ValueError:
            return 10.0

    def close(self) -> None:
        self.http.close()
