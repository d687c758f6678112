"""An OpenAI-compatible chat-completions endpoint on loopback, answering what a test tells it to."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer


@contextmanager
def llm_endpoint(*, status: int = 200, answer: object = "Rewritten summary."):
    """Yields (base URL, list of (path, Authorization header, JSON body) received).

    `answer` is the assistant's text, or any other object to send as the raw JSON body.
    """
    seen: list[tuple[str, str | None, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.path, self.headers.get("Authorization"), body))
            if isinstance(answer, str):
                payload = {"choices": [{"message": {"role": "assistant", "content": answer}}]}
            else:
                payload = answer
            out = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1", seen
    finally:
        server.shutdown()
        server.server_close()
