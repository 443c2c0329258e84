"""Meta (Facebook/Instagram) Custom Audiences: people added to or removed from a customer
file audience through the Marketing API's ``/{audience_id}/users`` edge.

Each row becomes one line of the multi-key schema the sync configures (``identifiers``:
email, phone, first_name, last_name, postcode, country, external_id, madid), normalised
and SHA-256 hashed as Meta documents (orchestration/exports/normalize.py); a key the row
lacks is sent blank, a key the row has but that is invalid fails the row alone.
At most 10,000 rows a request.

``mode: add`` (default) adds upserts and removes deletes. ``mode: replace`` sends every
row of the run to ``/usersreplace`` in one session (session_id, batch_seq from 1,
last_batch_flag), which swaps the audience's members for this run's rows when the last
batch is flagged. finish() flags it, repeating the last row sent (Meta wants the final
request to carry users, and a client cannot know which batch is the engine's last); the
engine calls it after a run that completed. close() never does: a run that stopped half
way leaves the audience as it was rather than replacing it with half the people.

Settings: access_token, audience_id, mode, identifiers, api_version, base_url,
app_secret (adds appsecret_proof), default_phone_country, estimated_num_total,
rate_limit_wait_seconds, timeout_seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any, ClassVar

from ..normalize import InvalidIdentifier, for_vendor
from ._http import AuthenticationFailed, Http, body_of, short
from .base import (BatchRejected, ConfigurationError, Operation, RateLimited, RowResult, TransientError,
                   required)

DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"
SCHEMA_KEYS = {"email": "EMAIL", "phone": "PHONE", "first_name": "FN", "last_name": "LN", "postcode": "ZIP",
               "country": "COUNTRY", "external_id": "EXTERN_ID", "madid": "MADID"}
# Graph API error codes (developers.facebook.com/docs/graph-api/guides/error-handling).
_AUTH_CODES = {102, 190, 200, 10}
_THROTTLE_CODES = {4, 17, 32, 613, 80003}
_TRANSIENT_CODES = {1, 2}


class MetaCustomAudience:
    kind: ClassVar[str] = "meta_custom_audience"
    max_batch_rows: ClassVar[int] = 10_000
    max_batch_bytes: ClassVar[int | None] = None
    supported_operations: ClassVar[tuple[str, ...]] = ("upsert", "insert", "delete")
    supports_replace: ClassVar[bool] = True  # mode: replace (the engine resends every row)

    def __init__(self, http: Http, *, access_token: str, audience_id: str, api_version: str = DEFAULT_API_VERSION,
                 identifiers: list[str] | None = None, mode: str = "add", app_secret: str | None = None,
                 default_phone_country: str = "US", estimated_num_total: int | None = None,
                 rate_limit_wait_seconds: float = 300.0):
        self.http = http
        self.access_token = access_token
        self.audience_id = audience_id
        self.api_version = api_version
        self.identifiers = identifiers or ["email", "phone"]
        unknown = [f for f in self.identifiers if f not in SCHEMA_KEYS]
        if unknown:
            raise ConfigurationError(f"meta: unknown identifiers {unknown}; use some of {sorted(SCHEMA_KEYS)}")
        if mode not in ("add", "replace"):
            raise ConfigurationError(f"meta: mode must be 'add' or 'replace' (got {mode!r})")
        self.mode = mode
        self.appsecret_proof = (hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()
                                if app_secret else None)
        self.default_phone_country = default_phone_country
        self.estimated_num_total = estimated_num_total
        self.rate_limit_wait_seconds = rate_limit_wait_seconds
        # A replace session: unique in the ad account, numbered from 1.
        self.session_id = secrets.randbelow(2**62) + 1
        self.batch_seq = 0
        self.last_row: list[str] | None = None
        self.session_closed = False

    @classmethod
    def from_config(cls, spec: dict, sync_name: str) -> "MetaCustomAudience":
        access_token = required(spec, "access_token", sync_name, cls.kind, "${META_ACCESS_TOKEN}")
        audience_id = required(spec, "audience_id", sync_name, cls.kind, "23851234567890123")
        identifiers = spec.get("identifiers") or ["email", "phone"]
        if isinstance(identifiers, str):
            identifiers = [identifiers]
        http = Http("meta", str(spec.get("base_url") or DEFAULT_BASE_URL), {}, float(spec.get("timeout_seconds", 60)))
        estimated = spec.get("estimated_num_total")
        return cls(http, access_token=str(access_token), audience_id=str(audience_id),
                   api_version=str(spec.get("api_version") or DEFAULT_API_VERSION), identifiers=list(identifiers),
                   mode=str(spec.get("mode", "add")), app_secret=spec.get("app_secret"),
                   default_phone_country=str(spec.get("default_phone_country", "US")),
                   estimated_num_total=int(estimated) if estimated else None,
                   rate_limit_wait_seconds=float(spec.get("rate_limit_wait_seconds", 300)))

    @property
    def schema(self) -> list[str]:
        return [SCHEMA_KEYS[f] for f in self.identifiers]

    def row(self, payload: dict[str, Any]) -> list[str]:
        """The schema line for a payload: normalised and hashed values, blank where absent."""
        values = []
        for field in self.identifiers:
            value = payload.get(field)
            if value is None or (isinstance(value, str) and not value.strip()):
                values.append("")
                continue
            values.append(for_vendor("meta", field, value, default_country=self.default_phone_country,
                                     country=payload.get("country")))
        if not any(values):
            raise InvalidIdentifier("row", f"none of {self.identifiers} present")
        return values

    def send(self, batch: list[Operation]) -> list[RowResult]:
        if self.session_closed:
            raise ConfigurationError("meta: the replace session was already finished; use a new client")
        results: dict[int, RowResult] = {}
        adds: list[tuple[int, list[str]]] = []
        removes: list[tuple[int, list[str]]] = []
        for i, op in enumerate(batch):
            if op.op not in self.supported_operations:
                results[i] = RowResult(op.key, False, f"meta: operation '{op.op}' is not supported")
                continue
            if op.op == "delete" and self.mode == "replace":
                # Whoever this run does not upload leaves the audience when the session ends.
                results[i] = RowResult(op.key, True)
                continue
            try:
                line = self.row(op.payload)
            except InvalidIdentifier as exc:
                results[i] = RowResult(op.key, False, f"meta: {exc}")
                continue
            (removes if op.op == "delete" else adds).append((i, line))
        if adds:
            self._apply("POST", "usersreplace" if self.mode == "replace" else "users", batch, adds, results)
        if removes:
            self._apply("DELETE", "users", batch, removes, results)
        return [results[i] for i in range(len(batch))]

    def _params(self, lines: list[list[str]], *, last: bool = False) -> dict[str, str]:
        params = {"access_token": self.access_token,
                  "payload": json.dumps({"schema": self.schema, "data": lines}, separators=(",", ":"))}
        if self.appsecret_proof:
            params["appsecret_proof"] = self.appsecret_proof
        if self.mode == "replace":
            session: dict[str, Any] = {"session_id": self.session_id, "batch_seq": self.batch_seq + 1,
                                       "last_batch_flag": last}
            if self.estimated_num_total:
                session["estimated_num_total"] = self.estimated_num_total
            params["session"] = json.dumps(session, separators=(",", ":"))
        return params

    def _apply(self, method: str, edge: str, batch, lines, results) -> None:
        path = f"/{self.api_version}/{self.audience_id}/{edge}"
        response = self.http.request(method, path, data=self._params([line for _, line in lines]))
        body = self._check(response)
        if edge == "usersreplace":
            self.batch_seq += 1
            self.last_row = lines[-1][1]
        samples = body.get("invalid_entry_samples") or {}
        for i, line in lines:
            bad = [samples[v] for v in line if v and v in samples]
            if bad:
                results[i] = RowResult(batch[i].key, False, f"meta: invalid entry: {bad[0]}")
            else:
                results[i] = RowResult(batch[i].key, True)

    def _check(self, response) -> dict:
        """The success body, or the exception for a Graph API error."""
        body = body_of(response)
        error = body.get("error") if isinstance(body, dict) else None
        if response.status_code == 200 and not error:
            return body
        if response.status_code == 429:
            self.http.raise_for_whole_request(response, default_retry_after=self.rate_limit_wait_seconds)
        error = error or {}
        code = error.get("code")
        message = f"meta: {error.get('message') or short(body)} (code {code}, subcode {error.get('error_subcode')})"
        if code in _THROTTLE_CODES:
            raise RateLimited(self._regain_seconds(response), message)
        if code in _AUTH_CODES or response.status_code in (401, 403):
            raise AuthenticationFailed(f"{message}; check access_token (ads_management permission on the "
                                       "audience's ad account) and app_secret")
        if code in _TRANSIENT_CODES or error.get("is_transient") or response.status_code >= 500:
            raise TransientError(message)
        raise BatchRejected(message)

    def _regain_seconds(self, response) -> float:
        """Meta's X-Business-Use-Case-Usage header: estimated_time_to_regain_access, in minutes."""
        header = response.headers.get("X-Business-Use-Case-Usage")
        try:
            usage = json.loads(header) if header else {}
            minutes = max(entry.get("estimated_time_to_regain_access", 0)
                          for entries in usage.values() for entry in entries)
            if minutes > 0:
                return float(minutes) * 60.0
        except (ValueError, TypeError, AttributeError):
            pass
        return self.rate_limit_wait_seconds

    def finish(self) -> None:
        """Flag the replace session's last batch (repeating its last row) so Meta swaps the members.

        For the engine to call after the last batch of a run that completed; close() does
        not, because a run that stopped half way must leave the audience as it was (Meta
        drops a session whose last batch never comes), not replace it with half the people.
        """
        if self.mode != "replace" or self.session_closed or self.last_row is None:
            return
        path = f"/{self.api_version}/{self.audience_id}/usersreplace"
        response = self.http.request("POST", path, data=self._params([self.last_row], last=True))
        self._check(response)
        self.batch_seq += 1
        self.session_closed = True

    def close(self) -> None:
        self.http.close()
