"""What every destination client implements, and the failures the delivery engine handles.

The engine (orchestration/exports/engine.py) hands a client one batch of operations at a
time, never more than ``max_batch_rows`` (and, where the API counts bytes, not more than
``max_batch_bytes`` of JSON payload). The client sends it and returns one RowResult per
operation. For a whole-batch problem it raises instead:

- RateLimited(retry_after): HTTP 429 (or the API's equivalent); the engine waits
  ``retry_after`` seconds (the Retry-After header) and sends the same batch again;
- TransientError: 5xx, timeouts, connection resets; the engine retries with exponential
  backoff and jitter, up to its attempt limit, then logs the rows as failed (retried on
  the next run);
- BatchRejected: the API refused the batch as a whole (a 400 naming no row); the engine
  splits it in halves and sends each, down to single rows, so one bad row fails alone.

Operations carry an idempotency key (a hash of sync, key, payload and operation) that the
client sends wherever the API accepts one; a batch sent twice after a crash must not be
applied twice where the API lets us prevent it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

OPERATIONS = ("upsert", "insert", "update", "delete")


@dataclass(frozen=True)
class Operation:
    op: str                      # upsert | insert | update | delete
    key: str                     # the record's primary key value, as text
    payload: dict[str, Any]      # destination field -> value (empty for delete)
    idempotency_key: str


@dataclass
class RowResult:
    key: str
    ok: bool
    error: str | None = None
    retryable: bool = False      # a failure worth trying again on the next run


@dataclass
class BatchOutcome:
    results: list[RowResult] = field(default_factory=list)


class DestinationError(Exception):
    """Base of the whole-batch failures a client raises."""


class RateLimited(DestinationError):
    def __init__(self, retry_after: float, message: str = "rate limited"):
        super().__init__(f"{message} (retry after {retry_after:g} s)")
        self.retry_after = retry_after


class TransientError(DestinationError):
    """Worth retrying: server error, timeout, connection reset."""


class BatchRejected(DestinationError):
    """The destination refused the batch as a whole without naming a row: bisect it."""


class ConfigurationError(ValueError):
    """A destination configured wrongly (missing credential, bad URL); the message says how to fix it."""


class Destination(Protocol):
    kind: ClassVar[str]
    max_batch_rows: ClassVar[int]
    max_batch_bytes: ClassVar[int | None]
    # Operations the destination can apply (mirror needs "delete").
    supported_operations: ClassVar[tuple[str, ...]]

    def send(self, batch: list[Operation]) -> list[RowResult]:
        ...

    def close(self) -> None:
        ...


def required(spec: dict, key: str, sync_name: str, kind: str, example: str) -> Any:
    """A destination setting that must be there, or a ConfigurationError naming the sync and the fix."""
    value = spec.get(key)
    if value in (None, ""):
        raise ConfigurationError(f"sync '{sync_name}': destination {kind} needs '{key}' (e.g. {key}: {example})")
    return value
