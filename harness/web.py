"""What drydock's loopback pages (approvals, the debug UI) share: quiet logs, uncached bodies."""
from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from typing import Any


class PageHandler(BaseHTTPRequestHandler):
    """A request handler whose responses are never cached and whose requests are not logged."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # the terminal shows the page's URL only

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)
