"""Klaviyo: profiles through the Bulk Import Profiles API, and list membership.

``klaviyo`` (KlaviyoProfiles) upserts profiles with one bulk import job per batch (at most
10,000 profiles and 5 MB per request), optionally adding them to a list in the same job,
waits for the job and reports the rows its import errors name. ``klaviyo_list``
(KlaviyoListMembers) adds or removes Klaviyo profile IDs to a list, 1,000 per request.

Neither ever calls a subscribe endpoint: subscribing clears suppressions and records
consent, which this project applies upstream (docs/destinations.md). A payload that
carries subscription fields is refused row by row.

Settings (sync YAML, ``destination:``): api_key (private key, ``pk_...``), list_id,
revision, base_url, default_phone_country, job_timeout_seconds, poll_interval_seconds,
timeout_seconds.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, ClassVar

from ..normalize import InvalidIdentifier, normalize_email, normalize_phone
from ._http import Http, body_of, short
from .base import BatchRejected, ConfigurationError, Operation, RowResult, TransientError, required

DEFAULT_BASE_URL = "https://a.klaviyo.com"
DEFAULT_REVISION = "2024-10-15"
MAX_REQUEST_BYTES = 5 * 1024 * 1024

_ATTRIBUTES = {"email", "phone_number", "external_id", "first_name", "last_name", "organization", "title",
               "image", "locale"}
_LOCATION = {"address1", "address2", "city", "country", "region", "zip", "timezone", "latitude", "longitude", "ip"}
_ALIASES = {"phone": "phone_number"}
# Consent is applied upstream; a sync that maps these would be asking Klaviyo to subscribe.
_CONSENT_FIELDS = {"subscriptions", "consent", "email_marketing", "sms_marketing"}
_PROFILE_POINTER = re.compile(r"/data/attributes/profiles/data/(\d+)")
_DATA_POINTER = re.compile(r"^/data/(\d+)")


def _headers(spec: dict, sync_name: str, kind: str) -> dict[str, str]:
    api_key = required(spec, "api_key", sync_name, kind, "${KLAVIYO_PRIVATE_API_KEY}")
    return {
        "Authorization": f"Klaviyo-API-Key {api_key}",
        "revision": str(spec.get("revision") or DEFAULT_REVISION),
        "accept": "application/vnd.api+json",
        "content-type": "application/vnd.api+json",
    }


def _errors(body: Any) -> list[dict]:
    return body.get("errors", []) if isinstance(body, dict) else []


def _describe(error: dict) -> str:
    parts = [error.get("code"), error.get("title"), error.get("detail")]
    return ": ".join(str(p) for p in parts if p) or short(error)


class KlaviyoProfiles:
    kind: ClassVar[str] = "klaviyo"
    max_batch_rows: ClassVar[int] = 10_000
    # The engine counts the payloads' JSON; the JSON:API envelope adds ~50 bytes a profile,
    # so leave room under the documented 5 MB. send() checks the real body too.
    max_batch_bytes: ClassVar[int | None] = 4_500_000
    supported_operations: ClassVar[tuple[str, ...]] = ("upsert", "insert", "update")

    def __init__(self, http: Http, *, list_id: str | None = None, default_phone_country: str = "US",
                 job_timeout_seconds: float = 300.0, poll_interval_seconds: float = 2.0):
        self.http = http
        self.list_id = list_id
        self.default_phone_country = default_phone_country
        self.job_timeout_seconds = job_timeout_seconds
        self.poll_interval_seconds = poll_interval_seconds

    @classmethod
    def from_config(cls, spec: dict, sync_name: str) -> "KlaviyoProfiles":
        http = Http("klaviyo", str(spec.get("base_url") or DEFAULT_BASE_URL), _headers(spec, sync_name, cls.kind),
                    float(spec.get("timeout_seconds", 30)))
        return cls(http, list_id=spec.get("list_id"),
                   default_phone_country=str(spec.get("default_phone_country", "US")),
                   job_timeout_seconds=float(spec.get("job_timeout_seconds", 300)),
                   poll_interval_seconds=float(spec.get("poll_interval_seconds", 2)))

    # -- building --------------------------------------------------------------------
    def profile(self, payload: dict[str, Any]) -> dict:
        """The JSON:API profile resource for a payload, or InvalidIdentifier/ValueError."""
        attributes: dict[str, Any] = {}
        location: dict[str, Any] = {}
        properties: dict[str, Any] = {}
        for name, value in payload.items():
            name = _ALIASES.get(name, name)
            if name in _CONSENT_FIELDS:
                raise ValueError(f"field '{name}' would change consent; consent is applied upstream, "
                                 "never through this sync")
            if value is None:
                continue  # the bulk import cannot clear a field; a null would be refused
            if name == "email":
                attributes["email"] = normalize_email(value)
            elif name == "phone_number":
                attributes["phone_number"] = normalize_phone(value, self.default_phone_country)
            elif name in _ATTRIBUTES:
                attributes[name] = value
            elif name in _LOCATION:
                location[name] = value
            else:
                properties[name] = value
        if not any(attributes.get(k) for k in ("email", "phone_number", "external_id")):
            raise InvalidIdentifier("profile", "needs an email, phone_number or external_id")
        if location:
            attributes["location"] = location
        if properties:
            attributes["properties"] = properties
        return {"type": "profile", "attributes": attributes}

    def job_body(self, profiles: list[dict]) -> dict:
        body: dict[str, Any] = {"data": {"type": "profile-bulk-import-job",
                                         "attributes": {"profiles": {"data": profiles}}}}
        if self.list_id:
            body["data"]["relationships"] = {"lists": {"data": [{"type": "list", "id": self.list_id}]}}
        return body

    # -- sending ---------------------------------------------------------------------
    def send(self, batch: list[Operation]) -> list[RowResult]:
        results: dict[int, RowResult] = {}
        pending: list[tuple[int, dict]] = []
        for i, op in enumerate(batch):
            if op.op not in self.supported_operations:
                results[i] = RowResult(op.key, False, f"klaviyo: operation '{op.op}' is not supported")
                continue
            try:
                pending.append((i, self.profile(op.payload)))
            except ValueError as exc:
                results[i] = RowResult(op.key, False, f"klaviyo: {exc}")
        # A 400 naming profiles fails those rows and the rest go again; each round removes
        # at least one row, and after a few the engine's bisection is the better tool.
        for _round in range(3):
            if not pending:
                break
            rejected = self._import(batch, pending, results)
            pending = [(i, p) for n, (i, p) in enumerate(pending) if rejected and n not in rejected]
        else:
            if pending:
                raise BatchRejected("klaviyo: bulk import kept refusing rows of this batch")
        return [results[i] for i in range(len(batch))]

    def _import(self, batch, pending, results) -> set[int]:
        """Import ``pending``; returns the positions (in pending) a 400 named, else fills results."""
        body = json.dumps(self.job_body([p for _, p in pending]), separators=(",", ":"))
        if len(body.encode()) > MAX_REQUEST_BYTES:
            if len(pending) == 1:
                i = pending[0][0]
                results[i] = RowResult(batch[i].key, False, "klaviyo: profile larger than the 5 MB request limit")
                return set()
            raise BatchRejected(f"klaviyo: request of {len(body.encode())} bytes is over the 5 MB limit")
        response = self.http.request("POST", "/api/profile-bulk-import-jobs", data=body)
        self.http.raise_for_whole_request(response, auth_hint="check api_key (a private key with profiles:write "
                                                               "and lists:write scopes)")
        if response.status_code == 400:
            named: dict[int, str] = {}
            for error in _errors(body_of(response)):
                match = _PROFILE_POINTER.search(str((error.get("source") or {}).get("pointer", "")))
                if match and int(match.group(1)) < len(pending):
                    named[int(match.group(1))] = _describe(error)
            if not named:
                raise BatchRejected(f"klaviyo: bulk import refused: {short(body_of(response))}")
            for n, message in named.items():
                i = pending[n][0]
                results[i] = RowResult(batch[i].key, False, f"klaviyo: {message}")
            return set(named)
        if response.status_code not in (200, 201, 202):
            raise BatchRejected(f"klaviyo: bulk import: HTTP {response.status_code}: {short(body_of(response))}")
        job_id = body_of(response)["data"]["id"]
        failures = self._wait_and_collect(job_id, [p for _, p in pending])
        for n, (i, _profile) in enumerate(pending):
            if failures is None:
                results[i] = RowResult(batch[i].key, False, f"klaviyo: import job {job_id} did not finish within "
                                       f"{self.job_timeout_seconds:g} s; the upsert is safe to repeat",
                                       retryable=True)
            elif n in failures:
                results[i] = RowResult(batch[i].key, False, f"klaviyo: {failures[n]}")
            else:
                results[i] = RowResult(batch[i].key, True)
        return set()

    def _wait_and_collect(self, job_id: str, profiles: list[dict]) -> dict[int, str] | None:
        """Poll the job to the end; the failed profiles' positions and errors, or None on timeout."""
        deadline = time.monotonic() + self.job_timeout_seconds
        while True:
            response = self.http.request("GET", f"/api/profile-bulk-import-jobs/{job_id}")
            self.http.raise_for_whole_request(response)
            if response.status_code != 200:
                raise TransientError(f"klaviyo: reading job {job_id}: HTTP {response.status_code}")
            attributes = body_of(response)["data"]["attributes"]
            if attributes.get("status") in ("complete", "cancelled"):
                break
            if time.monotonic() >= deadline:
                return None
            time.sleep(self.poll_interval_seconds)
        if attributes.get("status") == "cancelled":
            return {n: f"import job {job_id} was cancelled" for n in range(len(profiles))}
        if not attributes.get("failed_count"):
            return {}
        return self._import_errors(job_id, profiles)

    def _import_errors(self, job_id: str, profiles: list[dict]) -> dict[int, str]:
        by_identifier: dict[tuple[str, str], int] = {}
        for n, profile in enumerate(profiles):
            for key in ("email", "phone_number", "external_id"):
                if profile["attributes"].get(key):
                    by_identifier.setdefault((key, str(profile["attributes"][key])), n)
        failures: dict[int, str] = {}
        path: str | None = f"/api/profile-bulk-import-jobs/{job_id}/import-errors"
        while path:
            response = self.http.request("GET", path)
            self.http.raise_for_whole_request(response)
            if response.status_code != 200:
                raise TransientError(f"klaviyo: reading import errors of {job_id}: HTTP {response.status_code}")
            page = body_of(response)
            for item in page.get("data", []):
                error = item.get("attributes", {})
                n = self._row_of(error, by_identifier, len(profiles))
                if n is not None:
                    failures[n] = _describe(error)
            path = (page.get("links") or {}).get("next")
        return failures

    @staticmethod
    def _row_of(error: dict, by_identifier: dict, count: int) -> int | None:
        match = _PROFILE_POINTER.search(str((error.get("source") or {}).get("pointer", "")))
        if match and int(match.group(1)) < count:
            return int(match.group(1))
        original = error.get("original_payload") or {}
        original = original.get("attributes", original)
        for key in ("email", "phone_number", "external_id"):
            if original.get(key) and (key, str(original[key])) in by_identifier:
                return by_identifier[(key, str(original[key]))]
        return None

    def close(self) -> None:
        self.http.close()


class KlaviyoListMembers:
    """Klaviyo profile IDs added to (upsert/insert) or removed from (delete) one list."""

    kind: ClassVar[str] = "klaviyo_list"
    max_batch_rows: ClassVar[int] = 1_000
    max_batch_bytes: ClassVar[int | None] = None
    supported_operations: ClassVar[tuple[str, ...]] = ("upsert", "insert", "delete")

    def __init__(self, http: Http, list_id: str):
        self.http = http
        self.list_id = list_id

    @classmethod
    def from_config(cls, spec: dict, sync_name: str) -> "KlaviyoListMembers":
        list_id = required(spec, "list_id", sync_name, cls.kind, "Y6nRLr")
        http = Http("klaviyo", str(spec.get("base_url") or DEFAULT_BASE_URL), _headers(spec, sync_name, cls.kind),
                    float(spec.get("timeout_seconds", 30)))
        return cls(http, str(list_id))

    def send(self, batch: list[Operation]) -> list[RowResult]:
        results: dict[int, RowResult] = {}
        groups: dict[str, list[tuple[int, str]]] = {"POST": [], "DELETE": []}
        for i, op in enumerate(batch):
            if op.op not in self.supported_operations:
                results[i] = RowResult(op.key, False, f"klaviyo: operation '{op.op}' is not supported")
                continue
            profile_id = str(op.payload.get("profile_id") or op.key)
            groups["DELETE" if op.op == "delete" else "POST"].append((i, profile_id))
        for method, members in groups.items():
            if members:
                self._send(method, batch, members, results)
        return [results[i] for i in range(len(batch))]

    def _send(self, method: str, batch, members, results) -> None:
        body = {"data": [{"type": "profile", "id": profile_id} for _, profile_id in members]}
        response = self.http.request(method, f"/api/lists/{self.list_id}/relationships/profiles",
                                     data=json.dumps(body))
        self.http.raise_for_whole_request(response, auth_hint="check api_key (lists:write scope)")
        if response.status_code in (200, 202, 204):
            for i, _ in members:
                results[i] = RowResult(batch[i].key, True)
            return
        named: dict[int, str] = {}
        for error in _errors(body_of(response)):
            match = _DATA_POINTER.search(str((error.get("source") or {}).get("pointer", "")))
            if match and int(match.group(1)) < len(members):
                named[int(match.group(1))] = _describe(error)
        if response.status_code == 404:
            raise ConfigurationError(f"klaviyo: list '{self.list_id}' not found: {short(body_of(response))}")
        if not named:
            raise BatchRejected(f"klaviyo: list {method}: HTTP {response.status_code}: {short(body_of(response))}")
        # The request failed as a whole: the named rows fail, the others go again.
        rest = [m for n, m in enumerate(members) if n not in named]
        for n, message in named.items():
            i = members[n][0]
            results[i] = RowResult(batch[i].key, False, f"klaviyo: {message}")
        if rest:
            self._send(method, batch, rest, results)

    def close(self) -> None:
        self.http.close()
