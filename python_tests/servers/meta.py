"""Meta's Custom Audience users contract: ``access_token`` (and ``appsecret_proof`` when the
app requires it), a ``payload`` of ``schema`` + ``data`` with at most 10,000 rows, hashed
keys as 64 lower-case hex, replace sessions numbered from 1 and closed by
``last_batch_flag``; Graph API error shapes; throttling as error 80003 with the
X-Business-Use-Case-Usage header."""

from __future__ import annotations

import hashlib
import hmac
import json

from . import HEX64, FakeAPI, Reply, Request

MAX_ROWS = 10_000
KEYS = {"EMAIL", "PHONE", "FN", "LN", "ZIP", "COUNTRY", "EXTERN_ID", "MADID", "GEN", "DOBY", "DOBM", "DOBD",
        "FI", "CT", "ST", "EMAIL_SHA256", "PHONE_SHA256"}
UNHASHED = {"EXTERN_ID", "MADID"}


def _graph_error(code: int, message: str, subcode: int | None = None, kind: str = "OAuthException") -> dict:
    error = {"message": message, "type": kind, "code": code, "fbtrace_id": "AfakeTrace"}
    if subcode:
        error["error_subcode"] = subcode
    return {"error": error}


class MetaAPI(FakeAPI):
    def __init__(self, access_token: str = "EAAtest", app_secret: str | None = None,
                 audiences: tuple[str, ...] = ("238500000001",), reject_values: tuple[str, ...] = (), **kwargs):
        super().__init__(**kwargs)
        # Values the API refuses though well formed (what a client cannot check for itself).
        self.reject_values = set(reject_values)
        self.access_token = access_token
        self.app_secret = app_secret
        self.audiences: dict[str, set[tuple]] = {a: set() for a in audiences}
        self.sessions: dict[tuple[str, int], dict] = {}

    def rate_limited(self, wait_seconds: int) -> Reply:
        minutes = max(1, (wait_seconds + 59) // 60)
        usage = {"1234567890": [{"type": "custom_audience", "call_count": 100, "total_cputime": 20,
                                 "total_time": 30, "estimated_time_to_regain_access": minutes}]}
        return Reply(400, _graph_error(80003, "There have been too many calls to this ad-account. Wait a bit and "
                                       "try again.", 2446079), {"X-Business-Use-Case-Usage": json.dumps(usage)})

    def handle(self, request: Request) -> Reply:
        params = {**{k: v[-1] for k, v in request.query.items()}, **request.form()}
        if params.get("access_token") != self.access_token:
            return Reply(400, _graph_error(190, "Invalid OAuth access token - Cannot parse access token"))
        if self.app_secret:
            proof = hmac.new(self.app_secret.encode(), self.access_token.encode(), hashlib.sha256).hexdigest()
            if params.get("appsecret_proof") != proof:
                return Reply(400, _graph_error(100, "Invalid appsecret_proof provided in the API argument",
                                               kind="GraphMethodException"))
        parts = request.path.strip("/").split("/")
        if len(parts) != 3 or parts[2] not in ("users", "usersreplace"):
            return Reply(400, _graph_error(100, f"Unknown path components: {request.path}"))
        _, audience_id, edge = parts
        if audience_id not in self.audiences:
            return Reply(400, _graph_error(100, f"Unsupported post request. Object with ID '{audience_id}' does not "
                                           "exist", 33, "GraphMethodException"))
        try:
            payload = json.loads(params.get("payload", ""))
        except ValueError:
            return Reply(400, _graph_error(100, "(#100) payload must be JSON"))
        schema = payload.get("schema")
        schema = [schema] if isinstance(schema, str) else schema
        data = payload.get("data")
        if not schema or any(k not in KEYS for k in schema) or not isinstance(data, list) or not data:
            return Reply(400, _graph_error(100, "(#100) Invalid parameter: payload needs a known schema and data"))
        if len(data) > MAX_ROWS:
            return Reply(400, _graph_error(100, f"(#100) Too many users in one request: {len(data)} > {MAX_ROWS}"))
        if any(not isinstance(row, list) or len(row) != len(schema) for row in data):
            return Reply(400, _graph_error(100, "(#100) Each data row must have one value per schema key"))
        valid, invalid = [], {}
        for row in data:
            problem = None
            for key, value in zip(schema, row):
                if value and key not in UNHASHED and not HEX64.fullmatch(value):
                    problem = f"{key} is not a SHA-256 hash (64 lower-case hex characters)"
                    invalid[value] = problem
                elif value in self.reject_values:
                    invalid[value] = problem = f"{key} value refused"
            if not any(row):
                invalid[json.dumps(row)] = problem = "no identifier"
            if not problem:
                valid.append(tuple(zip(schema, row)))
        session_id = None
        if edge == "usersreplace":
            session = json.loads(params.get("session") or "null")
            if not isinstance(session, dict) or "session_id" not in session or "batch_seq" not in session:
                return Reply(400, _graph_error(100, "(#100) session with session_id and batch_seq is required"))
            session_id = session["session_id"]
            state = self.sessions.setdefault((audience_id, session_id), {"next_seq": 1, "rows": set(), "done": False})
            if state["done"] or session["batch_seq"] != state["next_seq"]:
                return Reply(400, _graph_error(2650, "Failed to update the custom audience: batch_seq out of order "
                                               "or session already finished", 1870147))
            state["next_seq"] += 1
            state["rows"].update(valid)
            if session.get("last_batch_flag"):
                state["done"] = True
                self.audiences[audience_id] = set(state["rows"])
        elif request.method == "DELETE":
            # Meta matches a removal on any identifier it recognises, not the whole line.
            gone = {pair for row in valid for pair in row if pair[1]}
            self.audiences[audience_id] = {row for row in self.audiences[audience_id]
                                           if not any(pair in gone for pair in row)}
        else:
            self.audiences[audience_id].update(valid)
        return Reply(200, {"audience_id": audience_id, "session_id": str(session_id or 0), "num_received": len(data),
                           "num_invalid_entries": len(data) - len(valid), "invalid_entry_samples": invalid})

    def members(self, audience_id: str, key: str = "EMAIL") -> set[str]:
        return {dict(row).get(key) for row in self.audiences[audience_id]} - {"", None}
