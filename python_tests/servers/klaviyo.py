"""Klaviyo's contract: ``Authorization: Klaviyo-API-Key``, a ``revision`` header, JSON:API
bodies; bulk import jobs of at most 10,000 profiles and 5 MB, processed asynchronously with
per-profile import errors; list membership 1,000 profile IDs a request. 429 with
Retry-After past the configured rate. No subscribe endpoint exists here: a call to one
is recorded as a contract breach."""

from __future__ import annotations

import itertools

from . import E164, EMAIL, FakeAPI, Reply, Request

MAX_PROFILES = 10_000
MAX_BYTES = 5 * 1024 * 1024
MAX_LIST_MEMBERS = 1_000


def _error(status: int, code: str, title: str, detail: str, pointer: str | None = None) -> dict:
    error = {"id": "e", "status": status, "code": code, "title": title, "detail": detail}
    if pointer:
        error["source"] = {"pointer": pointer}
    return error


class KlaviyoAPI(FakeAPI):
    def __init__(self, api_key: str = "pk_test", lists: tuple[str, ...] = ("LIST1",), polls_until_complete: int = 1,
                 errors_page_size: int = 100, **kwargs):
        super().__init__(**kwargs)
        self.api_key = api_key
        self.lists: dict[str, set[str]] = {list_id: set() for list_id in lists}
        self.profiles: dict[str, dict] = {}          # profile id -> attributes
        self.jobs: dict[str, dict] = {}
        self.polls_until_complete = polls_until_complete
        self.errors_page_size = errors_page_size
        self.subscribe_calls: list[Request] = []
        self._ids = itertools.count(1)
        self._index: dict[tuple[str, str], str] = {}

    def rate_limited(self, wait_seconds: int) -> Reply:
        return Reply(429, {"errors": [_error(429, "throttled", "Request was throttled.",
                                             f"Request was throttled. Expected available in {wait_seconds} seconds.")]},
                     {"Retry-After": str(wait_seconds)})

    def profile_id(self, attributes: dict) -> str:
        """The profile an import matches on email, phone or external ID, else a new one."""
        keys = [(k, attributes[k]) for k in ("email", "phone_number", "external_id") if attributes.get(k)]
        pid = next((self._index[k] for k in keys if k in self._index), None)
        if pid is None:
            pid = f"01PROFILE{next(self._ids):06d}"
            self.profiles[pid] = {}
        self._index.update({k: pid for k in keys})
        return pid

    def handle(self, request: Request) -> Reply:
        if "subscri" in request.path:
            self.subscribe_calls.append(request)
            return Reply(400, {"errors": [_error(400, "forbidden_in_test", "Never subscribe", "consent is upstream")]})
        if request.headers.get("authorization") != f"Klaviyo-API-Key {self.api_key}":
            return Reply(401, {"errors": [_error(401, "not_authenticated", "Authentication credentials were not "
                                                 "provided.", "Missing or invalid private key.")]})
        if not request.headers.get("revision"):
            return Reply(400, {"errors": [_error(400, "invalid", "Invalid input.", "Missing `revision` header.")]})
        if request.method == "POST" and request.path == "/api/profile-bulk-import-jobs":
            return self.create_job(request)
        if request.method == "GET" and request.path.startswith("/api/profile-bulk-import-jobs/"):
            rest = request.path.removeprefix("/api/profile-bulk-import-jobs/").split("/")
            job = self.jobs.get(rest[0])
            if job is None:
                return Reply(404, {"errors": [_error(404, "not_found", "Not found.", "No such job.")]})
            if len(rest) == 2 and rest[1] == "import-errors":
                return self.import_errors(job, int((request.query.get("page[cursor]") or ["0"])[0]))
            job["polls"] += 1
            status = "complete" if job["polls"] >= self.polls_until_complete else "processing"
            return Reply(200, {"data": {"type": "profile-bulk-import-job", "id": job["id"], "attributes": {
                "status": status, "total_count": job["total"], "completed_count": job["total"] - len(job["errors"]),
                "failed_count": len(job["errors"]) if status == "complete" else 0}}})
        if request.path.startswith("/api/lists/") and request.path.endswith("/relationships/profiles"):
            return self.list_members(request, request.path.split("/")[3])
        return Reply(404, {"errors": [_error(404, "not_found", "Not found.", request.path)]})

    def create_job(self, request: Request) -> Reply:
        if len(request.body) > MAX_BYTES:
            return Reply(413, {"errors": [_error(413, "payload_too_large", "Payload too large.",
                                                 "Request bodies are limited to 5 MB.")]})
        data = request.json().get("data", {})
        profiles = data.get("attributes", {}).get("profiles", {}).get("data", [])
        if data.get("type") != "profile-bulk-import-job" or not isinstance(profiles, list) or not profiles:
            return Reply(400, {"errors": [_error(400, "invalid", "Invalid input.", "Expected profiles.",
                                                 "/data/attributes/profiles/data")]})
        if len(profiles) > MAX_PROFILES:
            return Reply(400, {"errors": [_error(400, "invalid", "Invalid input.",
                                                 f"At most {MAX_PROFILES} profiles per job.",
                                                 "/data/attributes/profiles/data")]})
        schema_errors = []
        for n, profile in enumerate(profiles):
            attributes = profile.get("attributes") if isinstance(profile, dict) else None
            if profile.get("type") != "profile" or not isinstance(attributes, dict) or \
                    any(k in attributes for k in ("subscriptions", "consent")):
                schema_errors.append(_error(400, "invalid", "Invalid input.", "Not a valid profile.",
                                            f"/data/attributes/profiles/data/{n}"))
        if schema_errors:
            return Reply(400, {"errors": schema_errors})
        lists = [item["id"] for item in (data.get("relationships", {}).get("lists", {}).get("data") or [])]
        if any(list_id not in self.lists for list_id in lists):
            return Reply(404, {"errors": [_error(404, "not_found", "Not found.", "List does not exist.")]})
        job = {"id": f"JOB{next(self._ids)}", "polls": 0, "total": len(profiles), "errors": []}
        for n, profile in enumerate(profiles):
            attributes = profile["attributes"]
            problem = None
            if not any(attributes.get(k) for k in ("email", "phone_number", "external_id")):
                problem = "A profile needs an email, phone_number or external_id."
            elif attributes.get("email") and not EMAIL.fullmatch(attributes["email"]):
                problem = f"Invalid email address: {attributes['email']}"
            elif attributes.get("phone_number") and not E164.fullmatch(attributes["phone_number"]):
                problem = f"Invalid phone number: {attributes['phone_number']}"
            elif attributes.get("email", "").endswith("@blocked.example"):
                problem = "Email address belongs to a blocked domain."
            if problem:
                job["errors"].append({"code": "invalid", "title": "Invalid input.", "detail": problem,
                                      "source": {"pointer": f"/data/attributes/profiles/data/{n}"},
                                      "original_payload": attributes})
                continue
            pid = self.profile_id(attributes)
            merged = self.profiles[pid]
            for key, value in attributes.items():
                if isinstance(value, dict):
                    merged.setdefault(key, {}).update(value)
                else:
                    merged[key] = value
            for list_id in lists:
                self.lists[list_id].add(pid)
        self.jobs[job["id"]] = job
        return Reply(202, {"data": {"type": "profile-bulk-import-job", "id": job["id"],
                                    "attributes": {"status": "queued", "total_count": job["total"]}}})

    def import_errors(self, job: dict, cursor: int) -> Reply:
        page = job["errors"][cursor:cursor + self.errors_page_size]
        links = {}
        if cursor + self.errors_page_size < len(job["errors"]):
            links["next"] = (f"{self.url}/api/profile-bulk-import-jobs/{job['id']}/import-errors"
                             f"?page%5Bcursor%5D={cursor + self.errors_page_size}")
        return Reply(200, {"data": [{"type": "import-error", "id": f"E{cursor + n}", "attributes": error}
                                    for n, error in enumerate(page)], "links": links})

    def list_members(self, request: Request, list_id: str) -> Reply:
        if list_id not in self.lists:
            return Reply(404, {"errors": [_error(404, "not_found", "Not found.", f"List {list_id} does not exist.")]})
        members = request.json().get("data") or []
        if len(members) > MAX_LIST_MEMBERS:
            return Reply(400, {"errors": [_error(400, "invalid", "Invalid input.",
                                                 f"At most {MAX_LIST_MEMBERS} profiles per request.", "/data")]})
        unknown = [_error(400, "invalid", "Invalid input.", f"Profile {m.get('id')} does not exist.", f"/data/{n}")
                   for n, m in enumerate(members) if m.get("type") != "profile" or m.get("id") not in self.profiles]
        if unknown:
            return Reply(400, {"errors": unknown})
        for member in members:
            if request.method == "POST":
                self.lists[list_id].add(member["id"])
            else:
                self.lists[list_id].discard(member["id"])
        return Reply(204)
