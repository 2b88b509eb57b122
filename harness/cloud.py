"""The local AWS that drydock and the user's code talk to: moto in-process or behind a loopback endpoint.

Every boto3 client drydock makes comes from `LocalCloud.client`, bound to the local endpoint with
dummy credentials; a botocore hook refuses any request whose URL is not on loopback, so nothing
drydock does can reach a real AWS host (see also `harness.network_guard` for the socket level).
"""
from __future__ import annotations

import ipaddress
import os
import threading
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"  # moto's default account
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "aws_session_token": "testing"}


class RealAwsRequestBlocked(RuntimeError):
    """A request that would have left the machine for a real AWS endpoint."""


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def refuse_non_local(request: Any, **_: Any) -> None:
    """botocore `before-send` hook: only loopback endpoints (or moto's in-process mock) may be called."""
    host = urlsplit(request.url).hostname
    if is_loopback_host(host) or _MOCK.active:
        return
    raise RealAwsRequestBlocked(
        f"drydock blocked a request to {host} ({request.url.split('?')[0]}): it would leave this machine for real "
        f"AWS. Point the client at the local endpoint (LocalCloud.client / AWS_ENDPOINT_URL).")


class _MockState:
    """moto's in-process mock, started once per process and shared (moto patches botocore globally)."""

    def __init__(self) -> None:
        self.active = False
        self._mock: Any = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if not self.active:
                from moto import mock_aws

                from harness.overlay import intercept_botocore

                os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "true")
                self._mock = mock_aws()
                self._mock.start()
                intercept_botocore(True)  # drydock answers its own actions (Step Functions, SageMaker jobs...)
                self.active = True

    def stop(self) -> None:
        with self._lock:
            if self.active:
                from harness.overlay import intercept_botocore

                self._mock.stop()
                intercept_botocore(False)
                self.active = False


_MOCK = _MockState()


class LocalCloud:
    """A handle on the local AWS: `inprocess` (moto's mock, for fast tests) or `endpoint` (a server URL)."""

    def __init__(self, endpoint_url: str | None = None, *, region: str = DEFAULT_REGION,
                 account: str = DEFAULT_ACCOUNT):
        if endpoint_url is not None and not is_loopback_host(urlsplit(endpoint_url).hostname):
            raise RealAwsRequestBlocked(f"drydock only talks to a local endpoint, not {endpoint_url}")
        self.endpoint_url = endpoint_url
        self.region = region
        self.account = account
        if endpoint_url is None:
            _MOCK.start()  # before the session, which takes botocore's built-in handlers (the mocks) when made
        self._session = boto3.session.Session(region_name=region, **DUMMY_CREDENTIALS)
        self._session.events.register("before-send", refuse_non_local)
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def mode(self) -> str:
        return "inprocess" if self.endpoint_url is None else "endpoint"

    def client(self, service: str) -> Any:
        """A cached boto3 client for `service`, bound to the local cloud."""
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                client = self._session.client(service, endpoint_url=self.endpoint_url,
                                              config=Config(retries={"max_attempts": 1},
                                                            inject_host_prefix=False))  # no sync-127.0.0.1
                self._clients[service] = client
            return client

    def arn(self, service: str, resource: str, *, region: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account}:{resource}"
