"""`drydock serve`'s endpoint: one loopback URL for every AWS service the user's code calls.

Requests for Step Functions (`X-Amz-Target: AWSStepFunctions.*`) go to drydock's API over its
engine (`harness.stepfunctions_api`); everything else goes to moto's server app, exactly as
`moto_server` would answer it (moto's `ThreadedMotoServer` builds the same app).
"""
from __future__ import annotations

import socket
from typing import Any, Callable, Iterable

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from harness.stepfunctions_api import TARGET_PREFIX, StepFunctionsApi


class Gateway:
    """The WSGI app: Step Functions to drydock, the rest to moto."""

    def __init__(self, api: StepFunctionsApi):
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.api = api
        self.moto = DomainDispatcherApplication(create_backend_app)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith(TARGET_PREFIX):
            return self.moto(environ, start_response)
        request = Request(environ)
        status, headers, body = self.api.handle(target, request.get_data(), request.headers)
        return Response(body, status, headers)(environ, start_response)


def bind(host: str, port: int, api: StepFunctionsApi) -> BaseWSGIServer:
    """A threaded server for the gateway, bound and ready for `serve_forever`.

    Raises:
        OSError: the address cannot be bound (EADDRINUSE when the port is taken).
    """
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    # Bound here, not by werkzeug, whose server prints and exits when the port is taken.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.create_server((host, port), family=family) as listening:
        return make_server(host, port, Gateway(api), threaded=True, request_handler=MotoRequestHandler,
                           fd=listening.fileno())
