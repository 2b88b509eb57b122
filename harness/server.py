"""`drydock serve`'s endpoint: one loopback URL for every AWS service the user's code calls.

Requests for an action drydock answers itself (every Step Functions action, SageMaker's jobs and model
registry, ...; see `harness.overlay`) go to drydock; everything else goes to moto's server app, exactly
as `moto_server` would answer it (moto's `ThreadedMotoServer` builds the same app).
"""
from __future__ import annotations

import io
import socket
from typing import Any, Callable, Iterable

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Response

from harness.overlay import OVERLAY
from harness.stepfunctions_api import StepFunctionsApi, install


class Gateway:
    """The WSGI app: drydock's actions to drydock, the rest to moto."""

    def __init__(self, api: StepFunctionsApi | None = None, cloud_state: Any = None):
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        from harness.cloud import LocalCloud

        # drydock's services call moto in-process; start that mock now, before anything is stored:
        # its first start resets moto's backends, which would drop what clients created until then.
        LocalCloud(None)
        if api is not None:
            install(api)
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.cloud_state = cloud_state  # with a journal: what a request changed is saved before it is answered

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        call = OVERLAY.wsgi_call(environ)
        if call is None:
            answer = self.moto(environ, start_response)
        else:
            status, headers, body = OVERLAY.answer(call)
            answer = Response(body, status, headers)(environ, start_response)
        if self.cloud_state is not None:
            self.cloud_state.observe_wsgi(environ)
            self.cloud_state.flush()
        return answer


def _request_handler() -> type:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class KeepAliveHandler(MotoRequestHandler):
        """moto's request handler with HTTP/1.1 keep-alive, as AWS endpoints keep connections open.

        werkzeug answers every request with `Connection: close` because http.server cannot skip a request
        body the application left unread before it reads the next request line; so every boto3 call paid
        a new TCP connection and a new server thread. Here the body is read whole before the application
        runs (it is handed the bytes), so the stream always stands at the next request and the connection
        can stay open. A chunked request body still closes the connection, as before.
        """

        _keep_alive = False
        _pending_log: tuple[Any, Any] | None = None
        disable_nagle_algorithm = True  # an open connection must not hold an answer's last segment back

        def setup(self) -> None:
            super().setup()
            self.wfile = _LogAfterFlush(self.wfile, self)

        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            # werkzeug writes the access-log line before the status line; it is written once the answer has
            # been handed to the socket instead (0.1 ms less before each client sees its answer)
            self._pending_log = (code, size)

        def write_pending_log(self) -> None:
            if self._pending_log is not None:
                code, size = self._pending_log
                self._pending_log = None
                super().log_request(code, size)

        def make_environ(self) -> dict[str, Any]:
            environ = super().make_environ()
            self._keep_alive = False
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return environ
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                return environ
            body = self.rfile.read(length) if length > 0 else b""
            environ["wsgi.input"] = io.BytesIO(body)
            self._keep_alive = len(body) == length
            # werkzeug drains "what is left" of the request after answering; nothing is, and what arrives now
            # is the client's next request, which must stay in the socket for the next round
            self.rfile = io.BytesIO()
            return environ

        def run_wsgi(self) -> None:
            stream = self.rfile
            try:
                super().run_wsgi()
            finally:
                self.rfile = stream
                self.write_pending_log()

        def send_header(self, keyword: str, value: str) -> None:
            if self._keep_alive and keyword.lower() == "connection" and value.lower() == "close":
                return  # the connection stays open (unless the client asked to close it)
            super().send_header(keyword, value)

    return KeepAliveHandler


class _LogAfterFlush:
    """A request handler's socket writer that writes the handler's pending access-log line after each flush."""

    def __init__(self, raw: Any, handler: Any):
        self._raw = raw
        self._handler = handler

    def write(self, data: bytes) -> int:
        return self._raw.write(data)

    def flush(self) -> None:
        self._raw.flush()
        self._handler.write_pending_log()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


def bind(host: str, port: int, api: StepFunctionsApi, cloud_state: Any = None) -> BaseWSGIServer:
    """A threaded server for the gateway, bound and ready for `serve_forever`.

    Raises:
        OSError: the address cannot be bound (EADDRINUSE when the port is taken).
    """
    # Bound here, not by werkzeug, whose server prints and exits when the port is taken.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.create_server((host, port), family=family) as listening:
        return make_server(host, port, Gateway(api, cloud_state), threaded=True, request_handler=_request_handler(),
                           fd=listening.fileno())
