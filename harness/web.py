"""What drydock's loopback pages (approvals, the debug UI) share: quiet logs, uncached bodies, and the
command's serve-until-Ctrl-C loop (`drydock serve` uses that loop too)."""
from __future__ import annotations

import errno
import sys
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable


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


def serve_page(command: str, make_server: Callable[[], Any], host: str, port: int, note: str = "") -> int:
    """Bind the page's server (`make_server()`), say its URL, serve it until Ctrl-C; the command's exit code.

    A port that is taken, or an address that cannot be bound, is a clear message and exit code 2.
    """
    try:
        server = make_server()
    except OSError as err:
        problem = (f"port {port} is already in use; pick another with --port" if err.errno == errno.EADDRINUSE
                   else f"cannot listen on {host}:{port}: {err.strerror or err}")
        print(f"drydock {command}: {problem}", file=sys.stderr)
        return 2
    bound_host, bound_port = server.server_address[:2]
    print(f"drydock {command}: http://{bound_host}:{bound_port}/ ({note + '; ' if note else ''}Ctrl-C stops)",
          flush=True)
    serve_until_interrupted(server)
    return 0


def serve_until_interrupted(server: Any, *then: Callable[[], None]) -> None:
    """Serve until Ctrl-C, then close the server and run `then` (what else the command must stop), in order."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        for close in then:
            close()
