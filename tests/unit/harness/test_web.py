"""harness.web.serve_page: the loopback pages' serve loop says clearly when it cannot listen."""
from __future__ import annotations

import errno
import socket
from http.server import HTTPServer

import pytest

from harness.web import PageHandler, serve_page


def test_a_taken_port_is_exit_code_2_with_a_clear_message(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code = serve_page("ui", lambda: HTTPServer(("127.0.0.1", port), PageHandler), "127.0.0.1", port)
    assert code == 2
    assert capsys.readouterr().err.strip() == f"drydock ui: port {port} is already in use; pick another with --port"


def test_an_address_that_cannot_be_bound_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    def refuse() -> HTTPServer:
        raise OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address")
    assert serve_page("approvals", refuse, "10.255.255.1", 8000) == 2
    assert "drydock approvals: cannot listen on 10.255.255.1:8000: Cannot assign requested address" in \
        capsys.readouterr().err
