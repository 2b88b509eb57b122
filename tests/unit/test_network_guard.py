"""Nothing leaves the machine: the socket guard (on for every test) and the botocore hook of the local cloud."""
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from harness.network_guard import NetworkBlocked, guard_active, network_guard

ROOT = Path(__file__).resolve().parents[2]
TEST_NET = "192.0.2.1"  # RFC 5737 documentation address: never routed, and never tried here


def test_the_guard_is_on_for_the_whole_test_session():
    assert guard_active()


@pytest.mark.parametrize("attempt", [
    lambda: socket.create_connection((TEST_NET, 443), timeout=1),
    lambda: socket.socket().connect((TEST_NET, 443)),
    lambda: socket.socket().connect_ex((TEST_NET, 443)),
    lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", (TEST_NET, 53)),
    lambda: socket.socket(socket.AF_INET6).connect(("2001:db8::1", 443)),
])
def test_non_loopback_addresses_are_refused_naming_the_host(attempt):
    with pytest.raises(NetworkBlocked, match="network guard refused to (connect|send) to (192.0.2.1|2001:db8::1)"):
        attempt()


def test_names_are_not_even_resolved_unless_local():
    with pytest.raises(NetworkBlocked, match="refused to resolve sagemaker.us-east-1.amazonaws.com:443"):
        socket.getaddrinfo("sagemaker.us-east-1.amazonaws.com", 443)
    with pytest.raises(NetworkBlocked, match="sts.amazonaws.com"):
        socket.create_connection(("sts.amazonaws.com", 443))
    assert socket.getaddrinfo("localhost", 80)
    assert socket.getaddrinfo(TEST_NET, 80)  # an address literal needs no lookup; connecting to it is refused


def test_loopback_and_unix_sockets_pass(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=2), socket.create_connection(("localhost", port)):
            pass
    path = str(tmp_path / "docker.sock")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(path)
        server.listen()
        accepted = threading.Thread(target=lambda: server.accept()[0].close())
        accepted.start()
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(path)
        accepted.join(timeout=5)


def test_nested_blocks_keep_the_guard_until_the_last_one_ends():
    with network_guard():
        with network_guard():
            pass
        assert guard_active()
    assert guard_active()  # the session's own block is still open


BOTO3_TO_AWS = textwrap.dedent("""
    import json, boto3
    from botocore.config import Config
    from harness.cloud import DUMMY_CREDENTIALS, RealAwsRequestBlocked, refuse_non_local
    from harness.network_guard import network_guard

    def attempt(session):
        client = session.client("sagemaker", region_name="us-east-1", config=Config(retries={"max_attempts": 1}))
        try:
            client.list_training_jobs()
        except Exception as exc:
            return [type(exc).__name__, isinstance(exc, RealAwsRequestBlocked), str(exc)]
        return ["no error", False, ""]

    hooked = boto3.session.Session(**DUMMY_CREDENTIALS)
    hooked.events.register("before-send", refuse_non_local)
    with network_guard():
        guarded = attempt(boto3.session.Session(**DUMMY_CREDENTIALS))
    print(json.dumps({"hook": attempt(hooked), "guard": guarded}))
""")


def test_a_boto3_client_pointed_at_real_aws_fails_with_drydocks_error():
    """Both layers, in a fresh process (no moto mock there to answer first)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run([sys.executable, "-c", BOTO3_TO_AWS], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    name, is_drydock, message = result["hook"]
    assert (name, is_drydock) == ("RealAwsRequestBlocked", True)
    assert message.startswith("drydock blocked a request to api.sagemaker.us-east-1.amazonaws.com")
    name, _, message = result["guard"]  # botocore wraps what the socket layer raised, keeping its text
    assert name == "HTTPClientError"
    assert "drydock's network guard refused to resolve api.sagemaker.us-east-1.amazonaws.com:443" in message
