"""One overlay, two doors: drydock's actions answered in-process (botocore hook) and over `drydock serve` (WSGI),
in the service's own wire format, while every other action of the same service stays moto's."""
from __future__ import annotations

import socket
import threading

import pytest
from botocore.exceptions import ClientError

from harness.cloud import LocalCloud
from harness.overlay import OVERLAY, Call, ServiceError
from harness.server import bind
from harness.stepfunctions_api import StepFunctionsApi, install

IDENTITY = {"UserId": "AIDADRYDOCK", "Account": "111122223333", "Arn": "arn:aws:iam::111122223333:user/drydock"}


@pytest.fixture(scope="module")
def local() -> LocalCloud:
    return LocalCloud(None)


@pytest.fixture(scope="module")
def served(local):
    """`drydock serve`'s gateway on a free loopback port, in a thread of this process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    api = StepFunctionsApi()
    previous = install(api)
    server = bind("127.0.0.1", port, api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LocalCloud(f"http://127.0.0.1:{port}")
    server.shutdown()
    server.server_close()
    install(previous)
    api.close()


@pytest.fixture
def overlaid():
    """Register test handlers for a query service (STS) and a REST one (Lambda); give them back afterwards."""
    def identity(call: Call) -> dict:
        assert (call.service, call.action, call.account, call.region) == \
            ("sts", "GetCallerIdentity", "123456789012", "us-east-1")
        return IDENTITY

    def settings(call: Call) -> dict:
        if call.request.headers.get("X-Refuse"):
            raise ServiceError("TooManyRequestsException", "slow down")
        return {"AccountLimit": {"TotalCodeSize": 42, "CodeSizeUnzipped": 1, "CodeSizeZipped": 2,
                                 "ConcurrentExecutions": 3}, "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": 0}}
    OVERLAY.register("sts", identity, ["GetCallerIdentity"])
    OVERLAY.register("lambda", settings, ["GetAccountSettings"])
    yield
    OVERLAY.unregister("sts")
    OVERLAY.unregister("lambda")


@pytest.mark.parametrize("door", ["in-process", "served"])
def test_query_and_rest_actions_reach_drydock_and_the_rest_stays_moto(request, local, overlaid, door) -> None:
    cloud = local if door == "in-process" else request.getfixturevalue("served")
    sts, lam = cloud.client("sts"), cloud.client("lambda")
    answer = sts.get_caller_identity()  # query protocol: XML written from botocore's model
    assert {k: answer[k] for k in IDENTITY} == IDENTITY
    assert sts.get_session_token()["Credentials"]["AccessKeyId"]  # moto, same service
    assert lam.get_account_settings()["AccountLimit"]["TotalCodeSize"] == 42  # rest-json, by method and path
    assert "Functions" in lam.list_functions()  # moto, same service
    lam.meta.events.register("before-sign.lambda.GetAccountSettings",
                             lambda request, **_: request.headers.__setitem__("X-Refuse", "1"))
    with pytest.raises(ClientError) as exc:
        lam.get_account_settings()
    assert exc.value.response["Error"]["Code"] == "TooManyRequestsException"


def test_unregistered_actions_go_back_to_moto(local) -> None:
    OVERLAY.register("sts", lambda call: IDENTITY, ["GetCallerIdentity"])
    OVERLAY.unregister("sts")
    assert local.client("sts").get_caller_identity()["Account"] == "123456789012"  # moto's answer again


def test_sagemaker_and_step_functions_over_the_endpoint(local, served) -> None:
    sm = served.client("sagemaker")
    arn = sm.create_model_package_group(ModelPackageGroupName="overlay-served")["ModelPackageGroupArn"]
    # the same state in-process: both doors lead to the one SageMaker service
    assert local.client("sagemaker").describe_model_package_group(
        ModelPackageGroupName="overlay-served")["ModelPackageGroupArn"] == arn
    described = sm.describe_model_package_group(ModelPackageGroupName="overlay-served")
    assert described["CreationTime"].year >= 2024  # a JSON-protocol timestamp, epoch seconds on the wire
    with pytest.raises(ClientError) as exc:
        sm.describe_training_job(TrainingJobName="overlay-never")
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    assert sm.list_models()["Models"] is not None  # moto's SageMaker behind the same endpoint
    sfn = served.client("stepfunctions")
    assert sfn.list_state_machines()["stateMachines"] is not None
