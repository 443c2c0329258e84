"""Salesforce: records upserted by an external ID field through sObject Collections,
``PATCH /services/data/vXX.X/composite/sobjects/{sobject}/{external_id_field}``, at most
200 records a request, ``allOrNone: false`` so each record succeeds or fails alone; the
answer lists one result per record, in order.

Settings: instance_url, sobject (Contact by default), external_id_field, access_token or
client_id + client_secret + refresh_token (token_url), api_version, email_fields,
limit_wait_seconds (how long to wait once the org's API request limit is spent),
timeout_seconds.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..normalize import InvalidIdentifier, normalize_email
from ._http import AuthenticationFailed, Http, body_of, refresh_access_token, short
from .base import BatchRejected, ConfigurationError, Operation, RateLimited, RowResult, TransientError, required

DEFAULT_API_VERSION = "v60.0"
DEFAULT_TOKEN_URL = "https://login.salesforce.com/services/oauth2/token"
# Record errors that another attempt can clear.
RETRYABLE_CODES = {"UNABLE_TO_LOCK_ROW", "REQUEST_RUNNING_TOO_LONG", "SERVER_UNAVAILABLE", "TXN_SECURITY_NO_ACCESS"}
# Request errors that mean the sync's settings are wrong for this org.
_CONFIG_CODES = {"INVALID_FIELD", "NOT_FOUND", "INVALID_TYPE", "INVALID_FIELD_FOR_INSERT_UPDATE"}


class SalesforceUpsert:
    kind: ClassVar[str] = "salesforce"
    max_batch_rows: ClassVar[int] = 200
    max_batch_bytes: ClassVar[int | None] = None
    supported_operations: ClassVar[tuple[str, ...]] = ("upsert", "insert", "update")

    def __init__(self, http: Http, *, sobject: str, external_id_field: str, api_version: str = DEFAULT_API_VERSION,
                 access_token: str | None = None, refresh: dict | None = None,
                 email_fields: tuple[str, ...] = ("Email",), limit_wait_seconds: float = 3600.0):
        self.http = http
        self.sobject = sobject
        self.external_id_field = external_id_field
        self.api_version = api_version
        self.access_token = access_token
        self.refresh = refresh
        self.email_fields = email_fields
        self.limit_wait_seconds = limit_wait_seconds

    @classmethod
    def from_config(cls, spec: dict, sync_name: str) -> "SalesforceUpsert":
        instance_url = required(spec, "instance_url", sync_name, cls.kind, "https://yourorg.my.salesforce.com")
        external_id_field = required(spec, "external_id_field", sync_name, cls.kind, "CDP_Profile_Id__c")
        refresh = None
        if not spec.get("access_token"):
            refresh = {key: required(spec, key, sync_name, cls.kind, f"${{SALESFORCE_{key.upper()}}}")
                       for key in ("client_id", "client_secret", "refresh_token")}
            refresh["token_url"] = spec.get("token_url") or DEFAULT_TOKEN_URL
        http = Http("salesforce", str(instance_url), {"content-type": "application/json"},
                    float(spec.get("timeout_seconds", 60)))
        version = str(spec.get("api_version") or DEFAULT_API_VERSION)
        return cls(http, sobject=str(spec.get("sobject", "Contact")), external_id_field=str(external_id_field),
                   api_version=version if version.startswith("v") else f"v{version}",
                   access_token=spec.get("access_token"), refresh=refresh,
                   email_fields=tuple(spec.get("email_fields", ("Email",))),
                   limit_wait_seconds=float(spec.get("limit_wait_seconds", 3600)))

    def record(self, op: Operation) -> dict[str, Any]:
        record: dict[str, Any] = {"attributes": {"type": self.sobject}}
        for name, value in op.payload.items():
            if name in self.email_fields and value not in (None, ""):
                value = normalize_email(value)
            record[name] = value
        if record.get(self.external_id_field) in (None, ""):
            record[self.external_id_field] = op.key
        return record

    def send(self, batch: list[Operation]) -> list[RowResult]:
        results: dict[int, RowResult] = {}
        records: list[tuple[int, dict]] = []
        for i, op in enumerate(batch):
            if op.op not in self.supported_operations:
                results[i] = RowResult(op.key, False, f"salesforce: operation '{op.op}' is not supported")
                continue
            try:
                records.append((i, self.record(op)))
            except InvalidIdentifier as exc:
                results[i] = RowResult(op.key, False, f"salesforce: {exc}")
        if records:
            answers = self._upsert([record for _, record in records])
            if len(answers) != len(records):
                raise TransientError(f"salesforce: {len(answers)} results for {len(records)} records")
            for (i, _), answer in zip(records, answers):
                results[i] = self._result(batch[i].key, answer)
        return [results[i] for i in range(len(batch))]

    @staticmethod
    def _result(key: str, answer: dict) -> RowResult:
        if answer.get("success"):
            return RowResult(key, True)
        errors = answer.get("errors") or []
        message = "; ".join(f"{e.get('statusCode')}: {e.get('message')}"
                            + (f" ({', '.join(e['fields'])})" if e.get("fields") else "") for e in errors)
        retryable = any(e.get("statusCode") in RETRYABLE_CODES for e in errors)
        return RowResult(key, False, f"salesforce: {message or 'failed'}", retryable=retryable)

    def _upsert(self, records: list[dict], *, retried: bool = False) -> list[dict]:
        if not self.access_token:
            self._refresh_token()
        path = f"/services/data/{self.api_version}/composite/sobjects/{self.sobject}/{self.external_id_field}"
        response = self.http.request("PATCH", path, json={"allOrNone": False, "records": records},
                                     headers={"Authorization": f"Bearer {self.access_token}"})
        if response.status_code == 200:
            return body_of(response)
        body = body_of(response)
        errors = body if isinstance(body, list) else [body] if isinstance(body, dict) else []
        codes = {e.get("errorCode") for e in errors if isinstance(e, dict)}
        message = "; ".join(f"{e.get('errorCode')}: {e.get('message')}" for e in errors if isinstance(e, dict)) \
            or short(body)
        if "REQUEST_LIMIT_EXCEEDED" in codes:
            # The org's rolling 24-hour API limit: nothing to do but wait.
            raise RateLimited(self.limit_wait_seconds, f"salesforce: {message}")
        if response.status_code == 401 and self.refresh and not retried:
            self._refresh_token()
            return self._upsert(records, retried=True)
        self.http.raise_for_whole_request(response, auth_hint="check access_token (or the refresh credentials) "
                                                              "and instance_url")
        if codes & _CONFIG_CODES:
            raise ConfigurationError(f"salesforce: {message} (sobject '{self.sobject}', external_id_field "
                                     f"'{self.external_id_field}')")
        raise BatchRejected(f"salesforce: HTTP {response.status_code}: {message}")

    def _refresh_token(self) -> None:
        if not self.refresh:
            raise AuthenticationFailed("salesforce: no access_token and no refresh credentials")
        answer = refresh_access_token("salesforce", self.refresh["token_url"], str(self.refresh["client_id"]),
                                      str(self.refresh["client_secret"]), str(self.refresh["refresh_token"]),
                                      self.http.timeout)
        self.access_token = answer["access_token"]
        if answer.get("instance_url"):
            self.http.base_url = answer["instance_url"].rstrip("/")

    def close(self) -> None:
        self.http.close()
