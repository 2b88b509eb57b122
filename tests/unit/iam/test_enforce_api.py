"""IAM enforcement behind the in-process Step Functions API: the role comes from moto's IAM (DRYDOCK_IAM mode)."""
import json

import pytest

from harness.cloud import LocalCloud
from harness.stepfunctions_api import StepFunctionsApi, install

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}


@pytest.fixture
def cloud():
    return LocalCloud(None)


def publish(topic_arn: str) -> str:
    return json.dumps({"StartAt": "Tell", "States": {"Tell": {
        "Type": "Task", "Resource": "arn:aws:states:::sns:publish",
        "Parameters": {"TopicArn": topic_arn, "Message": "model approved"}, "End": True}}})


def test_strict_mode_fails_a_publish_the_role_does_not_allow(cloud, monkeypatch):
    monkeypatch.setenv("DRYDOCK_IAM", "strict")
    iam, sns = cloud.client("iam"), cloud.client("sns")
    allowed = sns.create_topic(Name="iam-allowed")["TopicArn"]
    other = sns.create_topic(Name="iam-other")["TopicArn"]
    role = iam.create_role(RoleName="iam-api-role", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    iam.put_role_policy(RoleName="iam-api-role", PolicyName="publish", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": allowed}]}))
    api = StepFunctionsApi()
    previous = install(api)
    try:
        sfn = cloud.client("stepfunctions")
        results = {}
        for name, topic in (("ok", allowed), ("denied", other)):
            machine = sfn.create_state_machine(name=f"iam-{name}", definition=publish(topic), roleArn=role)
            ex = sfn.start_execution(stateMachineArn=machine["stateMachineArn"])["executionArn"]
            results[name] = sfn.describe_execution(executionArn=ex)
    finally:
        install(previous)
        api.close()
    assert results["ok"]["status"] == "SUCCEEDED"
    denied = results["denied"]
    assert (denied["status"], denied["error"]) == ("FAILED", "SNS.AuthorizationErrorException")
    assert f"is not authorized to perform: SNS:Publish on resource: {other} because no identity-based policy " \
           f"allows the SNS:Publish action (Service: AmazonSNS; Status Code: 403; Error Code: AuthorizationError" \
        in denied["cause"]
