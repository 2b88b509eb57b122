"""IAM at run time: strict mode fails a denied task as AWS does, warn mode logs it and lets the call run."""
import json
import logging
from pathlib import Path

import pytest

from asl.engine import Engine
from asl.tasks import HandlerTable
from harness.cfn import load_template, state_machines
from harness.iam.enforce import STRICT, WARN, enforce
from harness.iam.policy import IamRoles, TemplateRoles

TRAINING = Path(__file__).resolve().parents[2] / "fixtures" / "iam" / "training.yaml"
ROLE = "arn:aws:iam::123456789012:role/StateMachineRole"


def services(calls):
    table = HandlerTable()
    table.register("sagemaker", "createTrainingJob", lambda r: calls.append("train") or {"TrainingJobStatus": "Completed"})
    table.register("lambda", "invoke", lambda r: calls.append("score") or {"Payload": {"churn": 0.2}})
    table.register("sns", "publish", lambda r: calls.append("notify") or {"MessageId": "m"})
    return table


def run(text, mode, role=ROLE):
    template = load_template(text)
    [machine] = state_machines(template)
    calls = []
    handlers = enforce(services(calls), TemplateRoles(template), mode=mode)
    engine = Engine(handlers)
    ex = engine.run_to_completion(engine.start(machine.definition, "{}", name="run-1", role_arn=role))
    return ex, calls, handlers


def failure(ex):
    [failed] = [e for e in ex.history.events if e["type"] == "TaskFailed"]
    return failed["taskFailedEventDetails"]


def test_allowed_calls_run():
    ex, calls, handlers = run(TRAINING.read_text(), STRICT)
    assert ex.status == "SUCCEEDED" and calls == ["train", "score", "notify"] and not handlers.denials


def test_strict_mode_fails_a_missing_pass_role_as_sagemaker_answers_it():
    ex, calls, _ = run(TRAINING.read_text().replace("Action: iam:PassRole", "Action: iam:GetRole"), STRICT)
    assert ex.status == "FAILED" and calls == []  # the job was never created
    details = failure(ex)
    assert details["error"] == "SageMaker.AmazonSageMakerException"
    session = details["cause"].split("assumed-role/StateMachineRole/")[1].split(" ")[0]
    assert details["cause"].startswith(
        f"User: arn:aws:sts::123456789012:assumed-role/StateMachineRole/{session} is not authorized to perform: "
        f"iam:PassRole on resource: arn:aws:iam:us-east-1:123456789012:role:SageMakerRole because no identity-based "
        f"policy allows the iam:PassRole action (Service: AmazonSageMaker; Status Code: 400; "
        f"Error Code: AccessDeniedException; Request ID: ")
    assert details["cause"].endswith("; Proxy: null)")
    assert (ex.error, ex.cause) == ("SageMaker.AmazonSageMakerException", details["cause"])


def test_strict_mode_names_the_job_the_run_actually_creates():
    """At run time the job name is known: a policy for churn-* allows churn-run-1, not fraud-run-1."""
    text = TRAINING.read_text().replace("States.Format('churn-{}'", "States.Format('fraud-{}'")
    ex, calls, _ = run(text, STRICT)
    assert "sagemaker:CreateTrainingJob on resource: arn:aws:sagemaker:us-east-1:123456789012:training-job/fraud-run-1" \
        in failure(ex)["cause"]


def test_strict_mode_missing_managed_rule_is_a_task_failure():
    ex, calls, _ = run(TRAINING.read_text().replace("events:PutTargets, events:PutRule", "events:PutTargets"), STRICT)
    assert failure(ex) == {"error": "States.TaskFailed", "resource": "createTrainingJob.sync", "resourceType": "sagemaker",
                           "cause": "'arn:aws:iam:us-east-1:123456789012:role:StateMachineRole' is not authorized to "
                                    "create managed-rule."}


@pytest.mark.parametrize("edit, error, code", [
    (("Action: lambda:InvokeFunction", "Action: lambda:GetFunction"), "Lambda.AWSLambdaException",
     "Status Code: 403; Error Code: AccessDeniedException"),
    (("Action: sns:Publish", "Action: sns:Subscribe"), "SNS.AuthorizationErrorException",
     "Status Code: 403; Error Code: AuthorizationError"),
])
def test_strict_mode_uses_each_services_error(edit, error, code):
    ex, calls, _ = run(TRAINING.read_text().replace(*edit), STRICT)
    details = failure(ex)
    assert details["error"] == error and code in details["cause"]
    if error.startswith("SNS"):  # SNS spells its prefix in capitals
        assert "not authorized to perform: SNS:Publish on resource" in details["cause"]


def test_an_explicit_deny_is_worded_as_aws_words_it():
    text = TRAINING.read_text().replace("        - PolicyName: ScoreAndNotify", """\
        - PolicyName: NoLambda
          PolicyDocument:
            Statement: [{Effect: Deny, Action: 'lambda:*', Resource: '*'}]
        - PolicyName: ScoreAndNotify""")
    ex, calls, _ = run(text, STRICT)
    assert "function:churn-score with an explicit deny in an identity-based policy (Service: AWSLambda" \
        in failure(ex)["cause"]


def test_catch_takes_access_denied_like_any_task_error():
    text = TRAINING.read_text().replace("Action: sns:Publish", "Action: sns:Subscribe").replace(
        '"Message.$": "$.score.Payload"},', '"Message.$": "$.score.Payload"},\n'
        '              "Catch": [{"ErrorEquals": ["SNS.AuthorizationErrorException"], "Next": "Quiet"}],').replace(
        '              "End": true\n            }\n          }', '              "End": true\n            },\n'
        '            "Quiet": {"Type": "Succeed"}\n          }')
    ex, calls, _ = run(text, STRICT)
    assert ex.status == "SUCCEEDED" and calls == ["train", "score"]


def test_warn_mode_logs_and_lets_the_call_run(caplog):
    with caplog.at_level(logging.WARNING, logger="drydock.iam"):
        ex, calls, handlers = run(TRAINING.read_text().replace("Action: sns:Publish", "Action: sns:Subscribe"), WARN)
    assert ex.status == "SUCCEEDED" and calls == ["train", "score", "notify"]
    [denial] = handlers.denials
    assert (denial.state_name, denial.permission.action) == ("Notify", "sns:Publish")
    [record] = caplog.records
    assert "IAM (warn mode)" in record.getMessage() and "SNS.AuthorizationErrorException" in record.getMessage()


def test_unknown_role_is_a_failure_in_strict_mode_and_one_note_otherwise(caplog):
    ex, calls, _ = run(TRAINING.read_text(), STRICT, role="arn:aws:iam::123456789012:role/nobody")
    assert failure(ex)["error"] == "States.TaskFailed" and "does not know the role" in failure(ex)["cause"]
    with caplog.at_level(logging.INFO, logger="drydock.iam"):
        ex, calls, _ = run(TRAINING.read_text(), WARN, role="arn:aws:iam::123456789012:role/nobody")
    assert ex.status == "SUCCEEDED" and [r.levelname for r in caplog.records] == ["INFO"]


def test_bind_keeps_the_wrapper_in_front():
    class Bindable(HandlerTable):
        bound = None

        def bind(self, engine):
            self.bound = engine
            return self
    inner = Bindable()
    wrapper = enforce(inner, TemplateRoles(load_template(TRAINING.read_text())))
    assert wrapper.bind("engine") is wrapper and inner.bound == "engine"


def test_roles_from_moto_iam():
    """Roles made through IAM (boto3 against the in-process cloud): inline and managed policies."""
    from harness.cloud import LocalCloud

    iam = LocalCloud(None).client("iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"},
                                       "Action": "sts:AssumeRole"}]})
    iam.create_role(RoleName="enforce-moto", AssumeRolePolicyDocument=trust)
    iam.put_role_policy(RoleName="enforce-moto", PolicyName="publish", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": "arn:aws:sns:us-east-1:123456789012:t"}]}))
    managed = iam.create_policy(PolicyName="enforce-no-delete", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": "*"}]}))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="enforce-moto", PolicyArn=managed)
    iam.put_role_policy(RoleName="enforce-moto", PolicyName="tables", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]}))

    role = IamRoles(LocalCloud(None)).lookup("arn:aws:iam::123456789012:role/enforce-moto")
    assert role.evaluate("sns:Publish", "arn:aws:sns:us-east-1:123456789012:t").allowed
    assert not role.evaluate("sns:Publish", "arn:aws:sns:us-east-1:123456789012:other").allowed
    assert role.evaluate("dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:123456789012:table/t").allowed
    assert role.evaluate("dynamodb:DeleteItem", "arn:aws:dynamodb:us-east-1:123456789012:table/t").reason == "explicit-deny"
    assert IamRoles(LocalCloud(None)).lookup("arn:aws:iam::123456789012:role/absent") is None


def test_roles_read_from_moto_directly_equal_roles_read_through_the_api():
    """IamRoles reads moto's in-process IAM state directly (no API round trips): the same Role as role_from_iam."""
    from harness.cloud import LocalCloud
    from harness.iam.policy import role_from_iam, role_from_moto

    iam = LocalCloud(None).client("iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"},
                                                               "Action": "sts:AssumeRole"}]})
    doc = lambda effect, action: json.dumps({"Version": "2012-10-17", "Statement": [  # noqa: E731
        {"Effect": effect, "Action": action, "Resource": "*"}]})
    boundary = iam.create_policy(PolicyName="direct-boundary", PolicyDocument=doc("Allow", "lambda:*"))["Policy"]["Arn"]
    iam.create_role(RoleName="direct-moto", AssumeRolePolicyDocument=trust, PermissionsBoundary=boundary)
    iam.put_role_policy(RoleName="direct-moto", PolicyName="inline", PolicyDocument=doc("Allow", "sns:Publish"))
    managed = iam.create_policy(PolicyName="direct-managed", PolicyDocument=doc("Deny", "sqs:*"))["Policy"]["Arn"]
    iam.create_policy_version(PolicyArn=managed, PolicyDocument=doc("Allow", "lambda:InvokeFunction"), SetAsDefault=True)
    iam.attach_role_policy(RoleName="direct-moto", PolicyArn=managed)

    arn = "arn:aws:iam::123456789012:role/direct-moto"
    direct = role_from_moto("123456789012", "us-east-1", arn)
    assert direct == role_from_iam(iam, arn)
    assert direct.evaluate("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:123456789012:function:f").allowed
    assert IamRoles(LocalCloud(None)).lookup(arn) == direct
    assert role_from_moto("123456789012", "us-east-1", "arn:aws:iam::123456789012:role/absent") is None
