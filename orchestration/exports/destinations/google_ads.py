"""Google Ads Customer Match: people added to or removed from a customer list through
OfflineUserDataJobService (REST): create a job for the list, add operations, run it.

Each row is one operation carrying its hashed email and/or E.164 phone (trimmed,
lower-cased, SHA-256; orchestration/exports/normalize.py). Google allows 100,000 user
identifiers per AddOfflineUserDataJobOperations request and 20 per operation; a row carries
at most two here, so a batch is at most 50,000 rows. Partial failure is on, so one bad
operation fails its row alone.

``mode: add`` (default): each batch is its own job, created, filled and run, so what a
batch reports is what was handed to Google. ``mode: replace``: one job for the run, whose
first operation removes everyone (``removeAll``); finish() runs it once the engine has sent
the last batch of a run that completed. close() never runs it: a job never run is
discarded and the list stays as it was.

Settings: customer_id, user_list_id, developer_token, login_customer_id, access_token or
client_id + client_secret + refresh_token (token_url), identifiers, mode, consent
(ad_user_data / ad_personalization as collected upstream), api_version, base_url,
default_phone_country, fold_gmail_dots, timeout_seconds.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from ..normalize import InvalidIdentifier, for_vendor
from ._http import AuthenticationFailed, Http, body_of, refresh_access_token, retry_after_seconds, short
from .base import (BatchRejected, ConfigurationError, Operation, RateLimited, RowResult, TransientError,
                   required)

DEFAULT_BASE_URL = "https://googleads.googleapis.com"
DEFAULT_API_VERSION = "v21"
DEFAULT_TOKEN_URL = "https://oauth2.googleapis.com/token"
MAX_IDENTIFIERS_PER_REQUEST = 100_000
IDENTIFIER_KEYS = {"email": "hashedEmail", "phone": "hashedPhoneNumber"}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")


def _failures(body: Any) -> list[dict]:
    """The GoogleAdsFailure errors inside an error or partialFailureError object."""
    errors: list[dict] = []
    for detail in (body or {}).get("details", []) if isinstance(body, dict) else []:
        errors.extend(detail.get("errors", []))
    return errors


def _operation_index(error: dict) -> int | None:
    for element in (error.get("location") or {}).get("fieldPathElements", []):
        if element.get("fieldName") == "operations" and "index" in element:
            return int(element["index"])
    return None


def _describe(error: dict) -> str:
    code = error.get("errorCode") or {}
    name = ", ".join(f"{k}={v}" for k, v in code.items())
    return f"{name}: {error.get('message', '')}".strip(": ")


class GoogleAdsCustomerMatch:
    kind: ClassVar[str] = "google_ads_customer_match"
    max_batch_rows: ClassVar[int] = MAX_IDENTIFIERS_PER_REQUEST // len(IDENTIFIER_KEYS)
    max_batch_bytes: ClassVar[int | None] = None
    supported_operations: ClassVar[tuple[str, ...]] = ("upsert", "insert", "delete")
    supports_replace: ClassVar[bool] = True  # mode: replace (the engine resends every row)

    def __init__(self, http: Http, *, customer_id: str, user_list_id: str, api_version: str = DEFAULT_API_VERSION,
                 identifiers: list[str] | None = None, mode: str = "add", consent: dict | None = None,
                 default_phone_country: str = "US", fold_gmail_dots: bool = False,
                 access_token: str | None = None, refresh: dict | None = None):
        self.http = http
        self.customer_id = customer_id
        self.user_list = f"customers/{customer_id}/userLists/{user_list_id}"
        self.api_version = api_version
        self.identifiers = identifiers or ["email", "phone"]
        unknown = [f for f in self.identifiers if f not in IDENTIFIER_KEYS]
        if unknown:
            raise ConfigurationError(f"google_ads: unknown identifiers {unknown}; use some of {sorted(IDENTIFIER_KEYS)}")
        if mode not in ("add", "replace"):
            raise ConfigurationError(f"google_ads: mode must be 'add' or 'replace' (got {mode!r})")
        self.mode = mode
        self.consent = consent
        self.default_phone_country = default_phone_country
        self.fold_gmail_dots = fold_gmail_dots
        self.refresh = refresh
        self.access_token = access_token
        self.replace_job: str | None = None
        self.remove_all_added = False
        self.finished = False

    @classmethod
    def from_config(cls, spec: dict, sync_name: str) -> "GoogleAdsCustomerMatch":
        customer_id = re.sub(r"\D", "", str(required(spec, "customer_id", sync_name, cls.kind, "123-456-7890")))
        user_list_id = str(required(spec, "user_list_id", sync_name, cls.kind, "8012345678"))
        developer_token = required(spec, "developer_token", sync_name, cls.kind, "${GOOGLE_ADS_DEVELOPER_TOKEN}")
        refresh = None
        if not spec.get("access_token"):
            refresh = {key: required(spec, key, sync_name, cls.kind, f"${{GOOGLE_ADS_{key.upper()}}}")
                       for key in ("client_id", "client_secret", "refresh_token")}
            refresh["token_url"] = spec.get("token_url") or DEFAULT_TOKEN_URL
        headers = {"developer-token": str(developer_token), "content-type": "application/json"}
        if spec.get("login_customer_id"):
            headers["login-customer-id"] = re.sub(r"\D", "", str(spec["login_customer_id"]))
        http = Http("google_ads", str(spec.get("base_url") or DEFAULT_BASE_URL), headers,
                    float(spec.get("timeout_seconds", 60)))
        identifiers = spec.get("identifiers") or ["email", "phone"]
        return cls(http, customer_id=customer_id, user_list_id=user_list_id,
                   api_version=str(spec.get("api_version") or DEFAULT_API_VERSION),
                   identifiers=[identifiers] if isinstance(identifiers, str) else list(identifiers),
                   mode=str(spec.get("mode", "add")), consent=spec.get("consent"),
                   default_phone_country=str(spec.get("default_phone_country", "US")),
                   fold_gmail_dots=bool(spec.get("fold_gmail_dots", False)),
                   access_token=spec.get("access_token"), refresh=refresh)

    # -- requests --------------------------------------------------------------------
    def _call(self, path: str, body: dict, *, retried: bool = False) -> dict:
        if not self.access_token:
            self._refresh_token()
        response = self.http.request("POST", f"/{self.api_version}/{path}", json=body,
                                     headers={"Authorization": f"Bearer {self.access_token}"})
        if response.status_code == 200:
            return body_of(response)
        error = body_of(response)
        error = error.get("error", {}) if isinstance(error, dict) else {}
        message = f"google_ads: {path}: HTTP {response.status_code} {error.get('status', '')}: " \
                  f"{error.get('message') or short(body_of(response))}"
        details = "; ".join(_describe(e) for e in _failures(error))
        if details:
            message += f" ({details})"
        if response.status_code == 401 and self.refresh and not retried:
            self._refresh_token()
            return self._call(path, body, retried=True)
        if response.status_code == 429 or error.get("status") == "RESOURCE_EXHAUSTED":
            raise RateLimited(self._retry_delay(response, error), message)
        if response.status_code in (401, 403):
            raise AuthenticationFailed(f"{message}; check developer_token, the OAuth credentials and "
                                       "login_customer_id (the manager account, if any)")
        if response.status_code >= 500:
            raise TransientError(message)
        raise BatchRejected(message)

    def _refresh_token(self) -> None:
        if not self.refresh:
            raise AuthenticationFailed("google_ads: no access_token and no refresh credentials")
        answer = refresh_access_token("google_ads", self.refresh["token_url"], str(self.refresh["client_id"]),
                                      str(self.refresh["client_secret"]), str(self.refresh["refresh_token"]),
                                      self.http.timeout)
        self.access_token = answer["access_token"]

    @staticmethod
    def _retry_delay(response, error: dict) -> float:
        for failure in _failures(error):
            delay = ((failure.get("details") or {}).get("quotaErrorDetails") or {}).get("retryDelay")
            match = _DURATION.match(str(delay or ""))
            if match:
                return float(match.group(1))
        return retry_after_seconds(response, 30.0)

    def _create_job(self) -> str:
        metadata: dict[str, Any] = {"userList": self.user_list}
        if self.consent:
            metadata["consent"] = {"adUserData": self.consent.get("ad_user_data", "UNSPECIFIED"),
                                   "adPersonalization": self.consent.get("ad_personalization", "UNSPECIFIED")}
        body = {"job": {"type": "CUSTOMER_MATCH_USER_LIST", "customerMatchUserListMetadata": metadata}}
        return self._call(f"customers/{self.customer_id}/offlineUserDataJobs:create", body)["resourceName"]

    def _run_job(self, job: str) -> None:
        self._call(f"{job}:run", {})

    # -- rows ------------------------------------------------------------------------
    def user_identifiers(self, payload: dict[str, Any]) -> list[dict[str, str]]:
        identifiers = []
        for field in self.identifiers:
            value = payload.get(field)
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            hashed = for_vendor("google_ads", field, value, default_country=self.default_phone_country,
                                fold_gmail_dots=self.fold_gmail_dots)
            identifiers.append({IDENTIFIER_KEYS[field]: hashed})
        if not identifiers:
            raise InvalidIdentifier("row", f"none of {self.identifiers} present")
        return identifiers

    def send(self, batch: list[Operation]) -> list[RowResult]:
        if self.finished:
            raise ConfigurationError("google_ads: the replace job already ran; use a new client")
        results: dict[int, RowResult] = {}
        operations: list[tuple[int, dict]] = []
        for i, op in enumerate(batch):
            if op.op not in self.supported_operations:
                results[i] = RowResult(op.key, False, f"google_ads: operation '{op.op}' is not supported")
                continue
            if op.op == "delete" and self.mode == "replace":
                results[i] = RowResult(op.key, True)  # removeAll took them out already
                continue
            try:
                user = {"userIdentifiers": self.user_identifiers(op.payload)}
            except InvalidIdentifier as exc:
                results[i] = RowResult(op.key, False, f"google_ads: {exc}")
                continue
            operations.append((i, {"remove" if op.op == "delete" else "create": user}))
        if operations:
            self._add(batch, operations, results)
        return [results[i] for i in range(len(batch))]

    def _add(self, batch, operations, results) -> None:
        body_ops = [operation for _, operation in operations]
        if self.mode == "replace":
            if self.replace_job is None:
                self.replace_job = self._create_job()
            if not self.remove_all_added:
                body_ops = [{"removeAll": True}] + body_ops
            job = self.replace_job
        else:
            job = self._create_job()
        offset = len(body_ops) - len(operations)  # removeAll shifts the indexes Google reports
        answer = self._call(f"{job}:addOperations", {"operations": body_ops, "enablePartialFailure": True})
        if self.mode == "replace":
            self.remove_all_added = True
        failed: dict[int, str] = {}
        for error in _failures(answer.get("partialFailureError")):
            index = _operation_index(error)
            if index is not None and 0 <= index - offset < len(operations):
                failed[index - offset] = _describe(error)
        for n, (i, _) in enumerate(operations):
            results[i] = (RowResult(batch[i].key, False, f"google_ads: {failed[n]}") if n in failed
                          else RowResult(batch[i].key, True))
        if self.mode == "add":
            self._run_job(job)

    def finish(self) -> None:
        """Run the replace job (after the last batch of a run that completed)."""
        if self.mode == "replace" and self.replace_job and not self.finished:
            self._run_job(self.replace_job)
            self.finished = True

    def close(self) -> None:
        self.http.close()
