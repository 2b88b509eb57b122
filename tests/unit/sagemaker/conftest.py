"""Fixtures for the SageMaker job runtime tests: moto S3 behind dummy credentials, never a real AWS endpoint."""
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
