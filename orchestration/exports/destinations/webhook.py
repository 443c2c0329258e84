"""A generic webhook, signed per the Standard Webhooks specification.

    destination: {type: webhook, url: "${CDP_WEBHOOK_URL}", secret: "${CDP_WEBHOOK_SECRET}",
                  batch_size: 500}

Each batch is one POST of JSON:
    {"type": "cdp.sync.batch", "timestamp": "...", "data": {"sync": ..., "operations":
     [{"op": "upsert", "key": "...", "idempotency_key": "...", "payload": {...}}, ...]}}
with the headers webhook-id (msg_ + a hash of the batch's idempotency keys, the same when
the batch is sent again), webhook-timestamp (Unix seconds) and webhook-signature
("v1," + base64 HMAC-SHA256 of "<id>.<timestamp>.<body>" with the secret; a secret
written whsec_<base64> is decoded as the spec says). Receivers should deduplicate on the
rows' idempotency keys.

Responses: 2xx, all rows applied; 429, wait Retry-After; 5xx or no answer, retry; 400/422
with {"errors": [{"key": ..., "error": ...}]}: those rows failed, the others applied; any
other 4xx (413 included): the batch is rejected whole and the engine splits it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from typing import ClassVar

import requests

from orchestration.exports.destinations.base import (BatchRejected, ConfigurationError, Operation, RateLimited,
                                                     RowResult, TransientError, required)


def secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret[len("whsec_"):]) if secret.startswith("whsec_") else secret.encode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()).decode()


class WebhookDestination:
    kind: ClassVar[str] = "webhook"
    bulk: ClassVar[bool] = False
    max_batch_rows: int = 500
    max_batch_bytes: int | None = 1_000_000
    supported_operations: ClassVar[tuple[str, ...]] = ("upsert", "insert", "update", "delete")

    def __init__(self, url: str, secret: str, sync_name: str, batch_size: int = 500, timeout: float = 30.0):
        self.url, self.secret, self.sync_name, self.timeout = url, secret, sync_name, timeout
        self.max_batch_rows = batch_size
        self.session = requests.Session()

    @classmethod
    def from_config(cls, spec: dict, sync_name: str) -> WebhookDestination:
        url = required(spec, "url", sync_name, "webhook", "https://example.com/hooks/cdp")
        if not str(url).startswith(("http://", "https://")):
            raise ConfigurationError(f"sync '{sync_name}': webhook url must start with http:// or https://, got {url!r}")
        secret = required(spec, "secret", sync_name, "webhook", '"${CDP_WEBHOOK_SECRET}"')
        batch_size = spec.get("batch_size", 500)
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or not 1 <= batch_size <= 10_000:
            raise ConfigurationError(f"sync '{sync_name}': webhook batch_size is a whole number from 1 to 10,000")
        return cls(url, secret, sync_name, batch_size)

    def send(self, batch: list[Operation]) -> list[RowResult]:
        message_id = "msg_" + hashlib.sha256("|".join(op.idempotency_key for op in batch).encode()).hexdigest()[:32]
        body = json.dumps({
            "type": "cdp.sync.batch",
            "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(),
            "data": {"sync": self.sync_name, "operations": [
                {"op": op.op, "key": op.key, "idempotency_key": op.idempotency_key, "payload": op.payload}
                for op in batch]},
        }, default=str, separators=(",", ":")).encode()
        timestamp = int(time.time())
        headers = {"content-type": "application/json", "webhook-id": message_id,
                   "webhook-timestamp": str(timestamp), "webhook-signature": sign(self.secret, message_id, timestamp, body)}
        try:
            response = self.session.post(self.url, data=body, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise TransientError(f"no answer from {self.url}: {exc.__class__.__name__}") from exc
        if 200 <= response.status_code < 300:
            return [RowResult(op.key, True) for op in batch]
        if response.status_code == 429:
            raise RateLimited(float(response.headers.get("retry-after", "1") or 1))
        if response.status_code >= 500:
            raise TransientError(f"HTTP {response.status_code} from {self.url}")
        if response.status_code in (400, 422):
            try:
                errors = {e["key"]: e.get("error", "rejected") for e in response.json().get("errors", [])}
            except (ValueError, AttributeError, KeyError, TypeError):
                errors = {}
            if errors:
                return [RowResult(op.key, op.key not in errors, errors.get(op.key)) for op in batch]
        if response.status_code in (401, 403):
            raise ConfigurationError(f"sync '{self.sync_name}': {self.url} refused the signature or credentials "
                                     f"(HTTP {response.status_code}); check the webhook secret")
        raise BatchRejected(f"HTTP {response.status_code} from {self.url}: {response.text[:200]}")

    def close(self) -> None:
        self.session.close()
