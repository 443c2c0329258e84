"""An alert webhook on loopback for tests: real HTTP on 127.0.0.1, records each JSON body it
accepts; can answer chosen requests with an error status first."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class AlertWebhook:
    def __init__(self, fail_first: int = 0, fail_status: int = 503):
        self.bodies: list[dict] = []
        self.requests = 0
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver.lock:
                    receiver.requests += 1
                    failing = receiver.requests <= receiver.fail_first
                    if not failing:
                        if self.headers.get("content-type", "").split(";")[0] != "application/json":
                            status = 415
                        else:
                            receiver.bodies.append(json.loads(raw))
                            status = 200
                status = receiver.fail_status if failing else status
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
