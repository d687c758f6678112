"""Slow real HTTP peers on loopback for the fault tests: a text carrier speaking Twilio's Messages API and a
relay that puts a delay in front of the sandbox EHR. Slow on purpose, so a worker can be SIGKILLed while
it is inside the call; each records what it really took, so a duplicate cannot hide.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import Counter
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import requests
from django.utils import timezone


class _Server:
    def __init__(self, handler):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _reply(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type="application/json"):
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the caller is gone (SIGKILLed mid-call): what it sent was still taken


class Carrier(_Server):
    """Twilio's `Messages.json` create and list. A message is taken when it arrives, answered `delay`
    seconds later: a worker killed in between leaves a text the carrier has and we have no SID for."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.messages: list[dict] = []
        self.lock = threading.Lock()
        carrier = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
                message = {
                    "sid": "SM" + secrets.token_hex(16),
                    "to": form.get("To", [""])[0],
                    "body": form.get("Body", [""])[0],
                    "status": "queued",
                    "date_created": format_datetime(timezone.now(), usegmt=True),
                }
                with carrier.lock:
                    carrier.messages.append(message)
                time.sleep(carrier.delay)
                _reply(self, 201, json.dumps(message).encode())

            def do_GET(self):
                to = parse_qs(urlsplit(self.path).query).get("To", [""])[0]
                with carrier.lock:
                    found = [m for m in carrier.messages if not to or m["to"] == to]
                page = {"messages": found, "next_page_uri": None, "page": 0, "page_size": 50, "uri": self.path}
                _reply(self, 200, json.dumps(page).encode())

            def log_message(self, *args):
                pass

        super().__init__(Handler)

    def texts(self) -> Counter:
        with self.lock:
            return Counter(m["to"] for m in self.messages)


class Relay(_Server):
    """Forwards every request to `target` at once, then holds the answer `delay` seconds: a worker killed
    meanwhile has had its write done and lost the answer. With `slow_paths`, only requests whose path
    contains one of them are held (e.g. a payer's `$inquire`, not its `$submit`)."""

    def __init__(self, target: str, delay: float = 0.0, slow_paths: tuple[str, ...] = ()):
        self.delay = delay
        self.slow_paths = slow_paths
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                answer = requests.request(self.command, target + self.path, data=body, headers=headers, timeout=30)
                if not relay.slow_paths or any(p in self.path for p in relay.slow_paths):
                    time.sleep(relay.delay)
                _reply(self, answer.status_code, answer.content, answer.headers.get("Content-Type", "application/json"))

            do_GET = do_POST = do_PUT = _forward

            def log_message(self, *args):
                pass

        super().__init__(Handler)
