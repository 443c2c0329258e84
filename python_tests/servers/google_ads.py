"""Google Ads OfflineUserDataJobService (REST) contract: Bearer token plus ``developer-token``
header; jobs for an existing customer list; addOperations of at most 100,000 user
identifiers a request and 20 an operation, hashed values as 64 lower-case hex, partial
failure per operation; run applies the job. Throttling as 429 RESOURCE_EXHAUSTED with a
retryDelay. Also an OAuth token endpoint (``/token``) for the refresh-token grant."""

from __future__ import annotations

import itertools

from . import HEX64, FakeAPI, Reply, Request

MAX_IDENTIFIERS = 100_000
MAX_PER_OPERATION = 20
FAILURE = "type.googleapis.com/google.ads.googleads.v21.errors.GoogleAdsFailure"


def _failure(errors: list[dict]) -> dict:
    return {"@type": FAILURE, "errors": errors}


def _error(status: int, status_name: str, message: str, errors: list[dict] | None = None) -> dict:
    body = {"error": {"code": status, "message": message, "status": status_name}}
    if errors:
        body["error"]["details"] = [_failure(errors)]
    return body


def _op_error(index: int, code: dict, message: str) -> dict:
    return {"errorCode": code, "message": message,
            "location": {"fieldPathElements": [{"fieldName": "operations", "index": index}]}}


class GoogleAdsAPI(FakeAPI):
    def __init__(self, access_token: str = "ya29.test", developer_token: str = "devtoken",
                 customer_id: str = "1234567890", user_lists: tuple[str, ...] = ("555",),
                 refresh_token: str | None = None, reject_values: tuple[str, ...] = (), **kwargs):
        super().__init__(**kwargs)
        self.reject_values = set(reject_values)
        self.access_token = access_token
        self.developer_token = developer_token
        self.customer_id = customer_id
        self.refresh_token = refresh_token
        self.lists: dict[str, set[tuple]] = {f"customers/{customer_id}/userLists/{u}": set() for u in user_lists}
        self.jobs: dict[str, dict] = {}
        self._ids = itertools.count(1)

    def rate_limited(self, wait_seconds: int) -> Reply:
        return Reply(429, _error(429, "RESOURCE_EXHAUSTED", "Too many requests.", [{
            "errorCode": {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"}, "message": "Too many requests.",
            "details": {"quotaErrorDetails": {"rateScope": "DEVELOPER", "rateName": "Requests per developer",
                                              "retryDelay": f"{wait_seconds}s"}}}]))

    def handle(self, request: Request) -> Reply:
        if request.path == "/token":
            form = request.form()
            if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh_token:
                return Reply(400, {"error": "invalid_grant", "error_description": "Bad Request"})
            return Reply(200, {"access_token": self.access_token, "expires_in": 3599, "token_type": "Bearer"})
        if request.headers.get("authorization") != f"Bearer {self.access_token}":
            return Reply(401, _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."))
        if request.headers.get("developer-token") != self.developer_token:
            return Reply(401, _error(401, "UNAUTHENTICATED", "The developer token is not valid.", [
                {"errorCode": {"authenticationError": "DEVELOPER_TOKEN_INVALID"}, "message": "invalid token"}]))
        path = request.path.split("/", 2)[2]          # drop "/v21"
        body = request.json() or {}
        if path == f"customers/{self.customer_id}/offlineUserDataJobs:create":
            job = body.get("job", {})
            user_list = job.get("customerMatchUserListMetadata", {}).get("userList")
            if job.get("type") != "CUSTOMER_MATCH_USER_LIST" or user_list not in self.lists:
                return Reply(400, _error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", [
                    {"errorCode": {"offlineUserDataJobError": "INVALID_USER_LIST_ID"}, "message": str(user_list)}]))
            name = f"customers/{self.customer_id}/offlineUserDataJobs/{next(self._ids)}"
            self.jobs[name] = {"list": user_list, "status": "PENDING", "operations": [],
                               "consent": job["customerMatchUserListMetadata"].get("consent")}
            return Reply(200, {"resourceName": name})
        name, _, verb = path.partition(":")
        job = self.jobs.get(name)
        if job is None:
            return Reply(404, _error(404, "NOT_FOUND", f"{name} not found"))
        if verb == "addOperations":
            return self.add_operations(job, body)
        if verb == "run":
            if job["status"] != "PENDING":
                return Reply(400, _error(400, "INVALID_ARGUMENT", "Job already ran.", [
                    {"errorCode": {"offlineUserDataJobError": "INVALID_JOB_STATUS"}, "message": job["status"]}]))
            members = self.lists[job["list"]]
            for operation in job["operations"]:
                if operation.get("removeAll"):
                    members.clear()
                elif "create" in operation:
                    members.update(self.identifiers(operation["create"]))
                elif "remove" in operation:
                    members.difference_update(self.identifiers(operation["remove"]))
            job["status"] = "SUCCESS"
            return Reply(200, {"name": f"{name}/operations/1"})
        return Reply(404, _error(404, "NOT_FOUND", path))

    @staticmethod
    def identifiers(user: dict) -> set[tuple]:
        return {item for identifier in user.get("userIdentifiers", []) for item in identifier.items()}

    def add_operations(self, job: dict, body: dict) -> Reply:
        if job["status"] != "PENDING":
            return Reply(400, _error(400, "INVALID_ARGUMENT", "Job is not pending.", [
                {"errorCode": {"offlineUserDataJobError": "INVALID_JOB_STATUS"}, "message": job["status"]}]))
        operations = body.get("operations") or []
        total = sum(len((op.get("create") or op.get("remove") or {}).get("userIdentifiers", [])) for op in operations)
        if total > MAX_IDENTIFIERS:
            return Reply(400, _error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", [
                {"errorCode": {"offlineUserDataJobError": "TOO_MANY_USER_IDENTIFIERS"},
                 "message": f"Maximum number of user identifiers allowed per request is {MAX_IDENTIFIERS:,} and per "
                            f"operation is {MAX_PER_OPERATION}."}]))
        errors, accepted = [], []
        for index, op in enumerate(operations):
            if op.get("removeAll"):
                if index != 0:
                    errors.append(_op_error(index, {"offlineUserDataJobError": "INVALID_OPERATION"},
                                            "removeAll must be the first operation"))
                else:
                    accepted.append(op)
                continue
            user = op.get("create") or op.get("remove")
            identifiers = (user or {}).get("userIdentifiers") or []
            problem = None
            if not identifiers:
                problem = ({"collectionSizeError": "TOO_FEW"}, "An operation needs a user identifier.")
            elif len(identifiers) > MAX_PER_OPERATION:
                problem = ({"offlineUserDataJobError": "TOO_MANY_USER_IDENTIFIERS"}, "Too many identifiers.")
            for identifier in identifiers:
                for key, value in identifier.items():
                    if key in ("hashedEmail", "hashedPhoneNumber") and not HEX64.fullmatch(str(value)):
                        code = "INVALID_SHA256_FORMAT"
                        problem = ({"offlineUserDataJobError": code}, f"{key} is not a valid SHA-256 hash.")
                    elif value in self.reject_values:
                        problem = ({"offlineUserDataJobError": "INVALID_SHA256_FORMAT"}, f"{key} refused.")
            if problem:
                errors.append(_op_error(index, *problem))
            else:
                accepted.append(op)
        if errors and not body.get("enablePartialFailure"):
            return Reply(400, _error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", errors))
        job["operations"].extend(accepted)
        answer = {}
        if errors:
            answer["partialFailureError"] = {"code": 3, "message": "Multiple errors in 'details'.",
                                             "details": [_failure(errors)]}
        return Reply(200, answer)

    def members(self, user_list_id: str, key: str = "hashedEmail") -> set[str]:
        return {value for k, value in self.lists[f"customers/{self.customer_id}/userLists/{user_list_id}"] if k == key}

