"""Fixtures for the SageMaker tests: moto behind dummy credentials, never a real AWS endpoint."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from job_requests import BUCKET, REGION

DUMMY_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


@pytest.fixture(scope="module")
def aws_credentials():
    with pytest.MonkeyPatch.context() as patch:
        for name, value in DUMMY_AWS_ENVIRONMENT.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            patch.delenv(name, raising=False)
        yield


@pytest.fixture(scope="module")
def s3(aws_credentials):
    """A moto S3 client with the test bucket; shared by one test module, so tests use their own prefixes."""
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory):
    """Parent of the job roots; one per module, like the bucket."""
    return tmp_path_factory.mktemp("jobs")


@pytest.fixture(scope="module")
def cloud():
    """The in-process local cloud with the service tests' bucket (`service_kit.BUCKET`); a module that needs
    another cloud defines its own `cloud`."""
    from harness.cloud import LocalCloud
    from service_kit import BUCKET as SERVICE_BUCKET

    cloud = LocalCloud(None)
    s3 = cloud.client("s3")
    if SERVICE_BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=SERVICE_BUCKET)
    return cloud


@pytest.fixture(scope="module")
def sm(cloud):
    return cloud.client("sagemaker")


@pytest.fixture(scope="module")
def serve_process(tmp_path_factory):
    """`drydock serve` in a subprocess on a free loopback port (its own moto): (process, port, log). A module that
    uses it names it in `pytestmark`, so that its start-up overlaps the in-process tests."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION})
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", "--port", str(port)],
                                  cwd=Path(__file__).resolve().parents[3], env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
    try:
        yield server, port, log
    finally:
        server.terminate()
        server.wait(timeout=10)
