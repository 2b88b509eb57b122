"""A socket-level guard: no connection leaves the machine while it is on.

`harness.cloud` refuses, at the botocore level, any request whose endpoint is not on loopback; this guard
catches everything else a process might do (an SDK that builds its own client, `urllib`, a library that
resolves a real AWS host). While it is on, `socket.connect`/`connect_ex`/`sendto`, `create_connection`
and `getaddrinfo` refuse any address that is not loopback (127.0.0.0/8, ::1, `localhost`) with
`NetworkBlocked`, naming the host; Unix sockets (the Docker socket, for one) pass. Names are not
resolved at all unless they are local ones, so not even a DNS query leaves the machine.

    with network_guard():
        ...  # a boto3 client pointed at sagemaker.us-east-1.amazonaws.com raises NetworkBlocked

The test session turns it on for every test (`tests/conftest.py`).
"""
from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from typing import Any, Iterator

from harness.cloud import RealAwsRequestBlocked, is_loopback_host

_INET = (socket.AF_INET, socket.AF_INET6)


class NetworkBlocked(RealAwsRequestBlocked):
    """A connection to a host that is not on this machine, refused by drydock's network guard."""

    def __init__(self, host: Any, port: Any = None, how: str = "connect to"):
        self.host, self.port = host, port
        where = f"{host}:{port}" if port is not None else str(host)
        super().__init__(f"drydock's network guard refused to {how} {where}: only loopback (127.0.0.1, ::1, "
                         f"localhost) and Unix sockets are reachable while it is on, so nothing leaves this machine. "
                         f"Point the client at the local endpoint (LocalCloud.client / AWS_ENDPOINT_URL).")


def _local_name(host: Any) -> bool:
    if host is None or host == "":
        return True  # getaddrinfo(None, port): the wildcard/loopback address of a listening socket
    if isinstance(host, bytes):
        host = host.decode("idna", "replace")
    return is_loopback_host(str(host))


def _is_ip_literal(host: Any) -> bool:
    try:
        ipaddress.ip_address(str(host).strip("[]").split("%", 1)[0])
        return True
    except ValueError:
        return False


def _check_address(family: int, address: Any, how: str) -> None:
    if family not in _INET or not isinstance(address, tuple) or not address:
        return  # AF_UNIX (a path), AF_NETLINK, ...: never off the machine
    host = address[0]
    if not _local_name(host):
        raise NetworkBlocked(host, address[1] if len(address) > 1 else None, how)


class _Guard:
    """The patches, installed once however many `network_guard()` blocks are open."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: dict[str, Any] = {}

    def enter(self) -> None:
        with self._lock:
            self._depth += 1
            if self._depth == 1:
                self._install()

    def exit(self) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                self._uninstall()

    @property
    def active(self) -> bool:
        return self._depth > 0

    def _install(self) -> None:
        cls = socket.socket
        saved = self._saved = {"connect": cls.connect, "connect_ex": cls.connect_ex, "sendto": cls.sendto,
                               "create_connection": socket.create_connection, "getaddrinfo": socket.getaddrinfo}

        def connect(sock: socket.socket, address: Any) -> Any:
            _check_address(sock.family, address, "connect to")
            return saved["connect"](sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> Any:
            _check_address(sock.family, address, "connect to")
            return saved["connect_ex"](sock, address)

        def sendto(sock: socket.socket, data: Any, *args: Any) -> Any:
            _check_address(sock.family, args[-1] if args else None, "send to")
            return saved["sendto"](sock, data, *args)

        def create_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
            host, port = address[0], address[1]
            if not _local_name(host):
                raise NetworkBlocked(host, port)
            return saved["create_connection"](address, *args, **kwargs)

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if not _local_name(host) and not _is_ip_literal(host):
                raise NetworkBlocked(host, port, "resolve")  # not even a DNS query leaves the machine
            return saved["getaddrinfo"](host, port, *args, **kwargs)

        cls.connect, cls.connect_ex, cls.sendto = connect, connect_ex, sendto  # type: ignore[method-assign]
        socket.create_connection = create_connection  # type: ignore[assignment]
        socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]

    def _uninstall(self) -> None:
        saved = self._saved
        socket.socket.connect = saved["connect"]  # type: ignore[method-assign]
        socket.socket.connect_ex = saved["connect_ex"]  # type: ignore[method-assign]
        socket.socket.sendto = saved["sendto"]  # type: ignore[method-assign]
        socket.create_connection = saved["create_connection"]
        socket.getaddrinfo = saved["getaddrinfo"]


_GUARD = _Guard()


@contextlib.contextmanager
def network_guard() -> Iterator[None]:
    """Refuse every non-loopback connection (and name lookup) made in this process while the block runs."""
    _GUARD.enter()
    try:
        yield
    finally:
        _GUARD.exit()


def guard_active() -> bool:
    return _GUARD.active
