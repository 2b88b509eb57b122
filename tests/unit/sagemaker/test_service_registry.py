"""The Model Registry through boto3 in-process: numbered versions, approval, and the EventBridge event rules see."""
from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from harness.cloud import LocalCloud
from service_kit import shape_problems, uri

GROUP = "svc-churn-models"
INFERENCE = {"Containers": [{"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
                             "ModelDataUrl": uri("models/train/output/model.tar.gz")}],
             "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}
METRICS = {"ModelQuality": {"Statistics": {"ContentType": "application/json",
                                           "S3Uri": uri("evaluation/evaluation.json")}}}


@pytest.fixture(scope="module")
def cloud() -> LocalCloud:
    return LocalCloud(None)


@pytest.fixture(scope="module")
def sm(cloud):
    return cloud.client("sagemaker")


@pytest.fixture(scope="module")
def approvals(cloud):
    """An SQS queue behind a rule that matches approved model packages of GROUP, as a deployment trigger would."""
    sqs, events = cloud.client("sqs"), cloud.client("events")
    url = sqs.create_queue(QueueName="svc-model-approved")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="svc-model-approved", EventPattern=json.dumps({
        "source": ["aws.sagemaker"], "detail-type": ["SageMaker Model Package State Change"],
        "detail": {"ModelPackageGroupName": [GROUP], "ModelApprovalStatus": ["Approved"]}}))
    events.put_targets(Rule="svc-model-approved", Targets=[{"Id": "queue", "Arn": arn}])
    return url


def register(sm, **extra):
    return sm.create_model_package(ModelPackageGroupName=GROUP, InferenceSpecification=INFERENCE,
                                   ModelMetrics=METRICS, **extra)["ModelPackageArn"]


def messages(sqs, url):
    return [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                               WaitTimeSeconds=0).get("Messages", [])]


def test_versions_approval_and_the_state_change_event(cloud, sm, approvals) -> None:
    group_arn = sm.create_model_package_group(ModelPackageGroupName=GROUP,
                                              ModelPackageGroupDescription="churn")["ModelPackageGroupArn"]
    assert group_arn == f"arn:aws:sagemaker:us-east-1:123456789012:model-package-group/{GROUP}"
    described_group = sm.describe_model_package_group(ModelPackageGroupName=GROUP)
    assert described_group["ModelPackageGroupStatus"] == "Completed"
    assert shape_problems(sm, "DescribeModelPackageGroup", described_group) == ""

    first, second = register(sm), register(sm, ModelApprovalStatus="Rejected")
    assert first == f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/1"
    assert second.endswith(f"/{GROUP}/2")
    described = sm.describe_model_package(ModelPackageName=first)
    assert (described["ModelPackageVersion"], described["ModelApprovalStatus"], described["ModelPackageStatus"]) == \
        (1, "PendingManualApproval", "Completed")
    assert described["ModelPackageName"] == GROUP and described["ModelMetrics"] == METRICS
    assert described["InferenceSpecification"] == INFERENCE
    assert shape_problems(sm, "DescribeModelPackage", described) == ""

    listed = sm.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    assert [p["ModelPackageVersion"] for p in listed] == [2, 1]  # newest first
    oldest_first = sm.list_model_packages(ModelPackageGroupName=GROUP, SortOrder="Ascending")
    assert [p["ModelPackageVersion"] for p in oldest_first["ModelPackageSummaryList"]] == [1, 2]
    pending = sm.list_model_packages(ModelPackageGroupName=GROUP, ModelApprovalStatus="PendingManualApproval")
    assert [p["ModelPackageArn"] for p in pending["ModelPackageSummaryList"]] == [first]
    assert shape_problems(sm, "ListModelPackages", pending) == ""

    sqs = cloud.client("sqs")
    assert messages(sqs, approvals) == []  # new versions were announced, but not as Approved
    sm.update_model_package(ModelPackageArn=first, ModelApprovalStatus="Approved",
                            ApprovalDescription="AUC 0.91 >= 0.85")
    after = sm.describe_model_package(ModelPackageName=first)
    assert (after["ModelApprovalStatus"], after["ApprovalDescription"]) == ("Approved", "AUC 0.91 >= 0.85")
    assert after["LastModifiedTime"] >= described["LastModifiedTime"]

    (event,) = messages(sqs, approvals)
    assert (event["source"], event["detail-type"]) == ("aws.sagemaker", "SageMaker Model Package State Change")
    assert (event["account"], event["region"], event["resources"]) == ("123456789012", "us-east-1", [first])
    detail = event["detail"]
    assert (detail["ModelPackageGroupName"], detail["ModelPackageVersion"], detail["ModelPackageArn"]) == \
        (GROUP, 1, first)
    assert (detail["ModelApprovalStatus"], detail["ModelPackageStatus"]) == ("Approved", "Completed")
    assert detail["ModelMetrics"] == METRICS and detail["CreationTime"].isdigit()

    sm.update_model_package(ModelPackageArn=first, ModelApprovalStatus="Approved")  # no change, no event
    assert messages(sqs, approvals) == []


def test_registry_refusals(sm) -> None:
    with pytest.raises(ClientError) as exc:
        sm.create_model_package(ModelPackageGroupName="svc-no-such-group", InferenceSpecification=INFERENCE)
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    assert "svc-no-such-group" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        sm.describe_model_package(ModelPackageName=f"arn:aws:sagemaker:us-east-1:123456789012:model-package/x/9")
    assert exc.value.response["Error"]["Code"] == "ValidationException"


def test_a_client_token_makes_create_model_package_idempotent(sm):
    sm.create_model_package_group(ModelPackageGroupName="svc-idempotent")
    first = sm.create_model_package(ModelPackageGroupName="svc-idempotent", InferenceSpecification=INFERENCE,
                                    ClientToken="step-register-1")["ModelPackageArn"]
    again = sm.create_model_package(ModelPackageGroupName="svc-idempotent", InferenceSpecification=INFERENCE,
                                    ClientToken="step-register-1")["ModelPackageArn"]
    other = sm.create_model_package(ModelPackageGroupName="svc-idempotent", InferenceSpecification=INFERENCE,
                                    ClientToken="step-register-2")["ModelPackageArn"]
    assert first == again and first.endswith("/1") and other.endswith("/2")
    listed = sm.list_model_packages(ModelPackageGroupName="svc-idempotent")["ModelPackageSummaryList"]
    assert len(listed) == 2
    assert "ClientToken" not in sm.describe_model_package(ModelPackageName=first)
