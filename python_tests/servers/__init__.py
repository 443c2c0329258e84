"""Local contract servers for the destination APIs: real HTTP on 127.0.0.1, one thread each.

Each enforces what its vendor documents (auth, required headers, batch and payload
limits, value formats), answers with the vendor's error shapes, returns the vendor's
rate-limit answer once more requests arrive in a window than it is configured to allow,
and keeps the state it applied so tests can assert the exact result.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HEX64 = re.compile(r"[0-9a-f]{64}")
E164 = re.compile(r"\+[1-9]\d{6,14}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]           # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeAPI:
    """Base of the contract servers: subclasses implement ``handle(request) -> Reply``."""

    def __init__(self, *, rate_limit: int | None = None, window_seconds: float = 60.0):
        self.rate_limit = rate_limit
        self.window_seconds = window_seconds
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self._times: list[float] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(self.command, parts.path, parse_qs(parts.query),
                                  {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
                with api.lock:
                    api.requests.append(request)
                    reply = api.throttle() or api.handle(request)
                data = b"" if reply.body is None else (
                    reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode())
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    # -- lifecycle -------------------------------------------------------------------
    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    # -- rate limiting ---------------------------------------------------------------
    def throttle(self) -> Reply | None:
        if self.rate_limit is None:
            return None
        now = time.monotonic()
        self._times = [t for t in self._times if now - t < self.window_seconds]
        if len(self._times) >= self.rate_limit:
            wait = int(self.window_seconds - (now - self._times[0])) + 1
            return self.rate_limited(wait)
        self._times.append(now)
        return None

    def rate_limited(self, wait_seconds: int) -> Reply:
        return Reply(429, {"error": "rate limited"}, {"Retry-After": str(wait_seconds)})

    def handle(self, request: Request) -> Reply:  # pragma: no cover - abstract
        raise NotImplementedError
