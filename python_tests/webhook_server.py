"""A webhook receiver on loopback that enforces the Standard Webhooks contract, for tests.

It checks the signature (HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>") and the
timestamp (at most 5 minutes old), refuses bodies over max_body_bytes (413), can answer 429
with Retry-After or 503 on chosen requests, rejects the rows of bad_keys (422 naming them,
the other rows applied; or 400 for the whole batch), and applies each operation at most
once per idempotency key, recording what it applied.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = "whsec_" + base64.b64encode(b"test-secret-0123456789").decode()


class Receiver:
    def __init__(self, secret: str = SECRET, max_body_bytes: int = 5_000_000, delay: float = 0.0):
        self.secret = secret
        self.max_body_bytes = max_body_bytes
        self.delay = delay
        self.lock = threading.Lock()
        self.requests = 0
        self.responses: dict[int, tuple[int, dict]] = {}   # request number -> forced (status, headers)
        self.state: dict[str, dict] = {}                  # key -> payload (what the destination holds)
        self.applied: dict[str, int] = {}                 # idempotency key -> times applied
        self.duplicates = 0
        self.batch_sizes: list[int] = []
        self.bad_keys: set[str] = set()    # rows the receiver refuses
        self.bad_mode = "per_row"          # per_row: 422 naming them; whole_batch: 400 naming nothing
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        server.daemon_threads = True
        self.server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/cdp"
        self.thread = threading.Thread(target=server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _verify(self, headers, body: bytes) -> bool:
        message_id, stamp, signatures = (headers.get("webhook-id"), headers.get("webhook-timestamp"),
                                         headers.get("webhook-signature"))
        if not (message_id and stamp and signatures) or abs(time.time() - int(stamp)) > 300:
            return False
        key = base64.b64decode(self.secret[len("whsec_"):])
        expected = base64.b64encode(hmac.new(key, f"{message_id}.{stamp}.".encode() + body,
                                             hashlib.sha256).digest()).decode()
        return any(hmac.compare_digest(expected, s.split(",", 1)[1]) for s in signatures.split() if "," in s)

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status, body=None, headers=None):
                data = json.dumps(body or {}).encode()
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.requests += 1
                    number = receiver.requests
                    forced = receiver.responses.get(number)
                if receiver.delay:
                    time.sleep(receiver.delay)
                if forced:
                    return self._reply(forced[0], {"error": "forced"}, forced[1])
                if length > receiver.max_body_bytes:
                    return self._reply(413, {"error": "payload too large"})
                if not receiver._verify(self.headers, body):
                    return self._reply(401, {"error": "bad signature"})
                operations = json.loads(body)["data"]["operations"]
                errors = []
                if receiver.bad_mode == "whole_batch" and any(op["key"] in receiver.bad_keys for op in operations):
                    return self._reply(400, {"error": "invalid batch"})
                with receiver.lock:
                    receiver.batch_sizes.append(len(operations))
                    for op in operations:
                        if op["key"] in receiver.bad_keys:
                            errors.append({"key": op["key"], "error": "email is not deliverable"})
                            continue
                        if op["idempotency_key"] in receiver.applied:
                            receiver.duplicates += 1
                            continue
                        receiver.applied[op["idempotency_key"]] = 1
                        if op["op"] == "delete":
                            receiver.state.pop(op["key"], None)
                        else:
                            receiver.state[op["key"]] = op["payload"]
                if errors:
                    return self._reply(422, {"errors": errors})
                return self._reply(200, {"applied": len(operations) - len(errors)})

        return Handler
