"""`drydock serve`'s endpoint: one loopback URL for every AWS service the user's code calls.

Requests for an action drydock answers itself (every Step Functions action, SageMaker's jobs and model
registry, ...; see `harness.overlay`) go to drydock; everything else goes to moto's server app, exactly
as `moto_server` would answer it (moto's `ThreadedMotoServer` builds the same app).
"""
from __future__ import annotations

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


def bind(host: str, port: int, api: StepFunctionsApi, cloud_state: Any = None) -> BaseWSGIServer:
    """A threaded server for the gateway, bound and ready for `serve_forever`.

    Raises:
        OSError: the address cannot be bound (EADDRINUSE when the port is taken).
    """
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    # Bound here, not by werkzeug, whose server prints and exits when the port is taken.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.create_server((host, port), family=family) as listening:
        return make_server(host, port, Gateway(api, cloud_state), threaded=True, request_handler=MotoRequestHandler,
                           fd=listening.fileno())
