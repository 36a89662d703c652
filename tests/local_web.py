"""A real HTTP server on 127.0.0.1 for the URL readers' tests: pages, redirects, huge and dripping bodies."""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

__all__ = ["INTERNAL_TEXT", "MADE", "serve"]

CORPUS = Path(__file__).parent / "corpus"
INTERNAL_TEXT = b"Internal only: the staging database password is kept in the vault."
# Files a test made, served at /made/NAME: {NAME: (body, Content-Type)}.
MADE: dict[str, tuple[bytes, str]] = {}


class _Pages(http.server.BaseHTTPRequestHandler):
    """GET routes; answers speak HTTP/1.0, so a body without Content-Length ends when the connection closes."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        try:
            if url.path == "/story.html":
                self._send(200, (CORPUS / "coffee.html").read_bytes(), "text/html; charset=utf-8")
            elif url.path == "/plain":
                self._send(200, b"Plain text served over HTTP.", "text/plain; charset=utf-8")
            elif url.path == "/internal.txt":
                self._send(200, INTERNAL_TEXT, "text/plain; charset=utf-8")
            elif url.path.startswith("/made/") and url.path[len("/made/") :] in MADE:
                body, content_type = MADE[url.path[len("/made/") :]]
                self._send(200, body, content_type)
            elif url.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", query["to"])
                self.end_headers()
            elif url.path == "/loop":
                self.send_response(302)
                self.send_header("Location", "/loop")
                self.end_headers()
            elif url.path == "/big":
                self._stream(int(query["bytes"]), chunk=64 * 1024, pause=0.0)
            elif url.path == "/declared":
                # Claims a huge body; a careful client refuses before reading it.
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", query["bytes"])
                self.end_headers()
                self.wfile.write(b"x" * 1024)
            elif url.path == "/drip":
                # One byte every 0.2 s for up to a minute: never slow enough for a per-read timeout.
                self._stream(300, chunk=1, pause=0.2)
            else:
                self._send(404, b"missing", "text/plain")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should have

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, size: int, *, chunk: int, pause: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.end_headers()
        sent = 0
        while sent < size:
            part = b"a" * min(chunk, size - sent)
            self.wfile.write(part)
            self.wfile.flush()
            sent += len(part)
            if pause:
                time.sleep(pause)

    def log_message(self, *_: object) -> None:
        pass


@contextlib.contextmanager
def serve() -> Iterator[str]:
    """The server's base URL, http://127.0.0.1:PORT, while the block runs."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
