"""The IAM evaluator: Allow/Deny, Action/NotAction, Resource/NotResource, wildcards, conditions, boundaries."""
import pytest

from harness.iam.policy import (ALLOWED, BOUNDARY_DENY, EXPLICIT_DENY, IMPLICIT_DENY, Policy, PolicyError, Role,
                                evaluate, resource_matches)

BUCKET = "arn:aws:s3:::churn/data/train.csv"


def policy(*statements):
    return Policy.from_document("test", {"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*", **more):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **more}


def deny(action, resource="*", **more):
    return {"Effect": "Deny", "Action": action, "Resource": resource, **more}


@pytest.mark.parametrize("pattern, action, allowed", [
    ("s3:GetObject", "s3:GetObject", True),
    ("s3:get*", "s3:GetObject", True),  # actions match without regard to case
    ("S3:*", "s3:PutObject", True),
    ("s3:Get?bject", "s3:GetObject", True),
    ("s3:Get", "s3:GetObject", False),
    ("*", "sagemaker:CreateTrainingJob", True),
    ("sagemaker:*TrainingJob", "sagemaker:CreateTrainingJob", True),
    ("sagemaker:*TrainingJob", "sagemaker:CreateTrainingJobs", False),
])
def test_action_wildcards(pattern, action, allowed):
    assert evaluate([policy(allow(pattern))], action, "*").allowed is allowed


@pytest.mark.parametrize("pattern, resource, matches", [
    ("*", BUCKET, True),
    ("arn:aws:s3:::churn/*", BUCKET, True),  # the resource part may span '/' and ':'
    ("arn:aws:s3:::churn/data/*.csv", BUCKET, True),
    ("arn:aws:s3:::Churn/*", BUCKET, False),  # resources are case-sensitive
    ("arn:aws:s3:::churn/data/train.cs?", BUCKET, True),
    ("arn:aws:lambda:*:123456789012:function:score", "arn:aws:lambda:eu-west-1:123456789012:function:score", True),
    ("arn:aws:lambda:*:function:score", "arn:aws:lambda:eu-west-1:123456789012:function:score", False),  # no field-crossing
    ("arn:aws:lambda:us-east-1:123456789012:function:score", "arn:aws:lambda:us-east-1:123456789012:function:score:live", False),
    ("arn:aws:lambda:us-east-1:123456789012:function:score:*", "arn:aws:lambda:us-east-1:123456789012:function:score:live", True),
])
def test_resource_wildcards(pattern, resource, matches):
    assert resource_matches(pattern, resource) is matches


def test_explicit_deny_wins_over_any_allow():
    policies = [policy(allow("s3:*")), policy(deny("s3:GetObject", "arn:aws:s3:::churn/*"))]
    decision = evaluate(policies, "s3:GetObject", BUCKET)
    assert (decision.allowed, decision.reason, decision.statement.effect) == (False, EXPLICIT_DENY, "Deny")
    assert evaluate(policies, "s3:PutObject", BUCKET).reason == ALLOWED
    assert evaluate(policies, "s3:GetObject", "arn:aws:s3:::other/x").allowed


def test_nothing_allows_is_an_implicit_deny():
    decision = evaluate([policy(allow("s3:GetObject", "arn:aws:s3:::other/*"))], "s3:GetObject", BUCKET)
    assert (decision.allowed, decision.reason, decision.statement) == (False, IMPLICIT_DENY, None)


def test_not_action_and_not_resource():
    everything_but_iam = policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert evaluate([everything_but_iam], "sagemaker:CreateModel", "*").allowed
    assert not evaluate([everything_but_iam], "iam:PassRole", "*").allowed
    only_churn = [policy(allow("s3:*"), {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::churn/*"})]
    assert evaluate(only_churn, "s3:GetObject", BUCKET).allowed
    assert evaluate(only_churn, "s3:GetObject", "arn:aws:s3:::secrets/key").reason == EXPLICIT_DENY


def test_pass_role_condition_on_the_service_it_is_passed_to():
    passing = [policy(allow("iam:PassRole", "arn:aws:iam::123456789012:role/SM",
                            Condition={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}))]
    role = "arn:aws:iam::123456789012:role/SM"
    assert evaluate(passing, "iam:PassRole", role, context={"iam:PassedToService": "sagemaker.amazonaws.com"}).allowed
    assert not evaluate(passing, "iam:PassRole", role, context={"iam:PassedToService": "glue.amazonaws.com"}).allowed
    assert not evaluate(passing, "iam:PassRole", role).allowed  # the key is absent: StringEquals fails
    if_exists = [policy(allow("iam:PassRole", role,
                              Condition={"StringEqualsIfExists": {"iam:PassedToService": "sagemaker.amazonaws.com"}}))]
    assert evaluate(if_exists, "iam:PassRole", role).allowed


def test_like_not_equals_and_for_any_value_conditions():
    regions = [policy(allow("s3:*", Condition={"StringLike": {"aws:RequestedRegion": "eu-*"}}))]
    assert evaluate(regions, "s3:GetObject", BUCKET, context={"aws:RequestedRegion": "eu-west-1"}).allowed
    assert not evaluate(regions, "s3:GetObject", BUCKET, context={"aws:RequestedRegion": "us-east-1"}).allowed
    outside = [policy(allow("*"), deny("*", Condition={"StringNotEquals": {"aws:RequestedRegion": ["us-east-1"]}}))]
    assert evaluate(outside, "s3:GetObject", BUCKET, context={"aws:RequestedRegion": "us-east-1"}).allowed
    assert evaluate(outside, "s3:GetObject", BUCKET, context={"aws:RequestedRegion": "eu-west-1"}).reason == EXPLICIT_DENY
    arn_like = [policy(allow("*", Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/ml-*"}}))]
    assert evaluate(arn_like, "s3:GetObject", BUCKET, context={"aws:PrincipalArn": "arn:aws:iam::1:role/ml-x"}).allowed


def test_unsupported_conditions_assume_the_worst_and_say_so():
    from_office = {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}
    allowed_from_office = [policy(allow("s3:*", Condition=from_office))]
    decision = evaluate(allowed_from_office, "s3:GetObject", BUCKET)
    assert not decision.allowed and decision.unsupported == ("IpAddress aws:SourceIp (a statement of policy 'test')",)
    denied_outside = [policy(allow("s3:*"), deny("s3:*", Condition={"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}))]
    decision = evaluate(denied_outside, "s3:GetObject", BUCKET)
    assert decision.reason == EXPLICIT_DENY and "NotIpAddress aws:SourceIp" in decision.unsupported[0]
    variables = [policy(allow("s3:*", Condition={"StringEquals": {"aws:PrincipalArn": "${aws:username}"}}))]
    assert not evaluate(variables, "s3:GetObject", BUCKET).allowed


def test_resources_known_only_at_run_time():
    """`*` standing for a run-time value: an Allow needs to grant some of it, a Deny must refuse all of it."""
    unknown_job = "arn:aws:sagemaker:us-east-1:123456789012:training-job/*"
    scoped = [policy(allow("sagemaker:CreateTrainingJob", "arn:aws:sagemaker:*:*:training-job/churn-*"))]
    assert evaluate(scoped, "sagemaker:CreateTrainingJob", unknown_job, exact=False).allowed
    assert not evaluate(scoped, "sagemaker:CreateTrainingJob", unknown_job).allowed  # literally "training-job/*"
    other_account = [policy(allow("sagemaker:CreateTrainingJob", "arn:aws:sagemaker:*:999999999999:training-job/*"))]
    assert not evaluate(other_account, "sagemaker:CreateTrainingJob", unknown_job, exact=False).allowed
    partly_denied = scoped + [policy(deny("sagemaker:*", "arn:aws:sagemaker:*:*:training-job/churn-prod*"))]
    assert evaluate(partly_denied, "sagemaker:CreateTrainingJob", unknown_job, exact=False).allowed
    all_denied = scoped + [policy(deny("sagemaker:*", "arn:aws:sagemaker:*:*:*"))]
    assert evaluate(all_denied, "sagemaker:CreateTrainingJob", unknown_job, exact=False).reason == EXPLICIT_DENY


def test_list_actions_need_star():
    scoped = [policy(allow("sagemaker:ListModelPackages", "arn:aws:sagemaker:*:*:model-package-group/x"))]
    assert not evaluate(scoped, "sagemaker:ListModelPackages", "*").allowed
    assert evaluate([policy(allow("sagemaker:List*"))], "sagemaker:ListModelPackages", "*").allowed


def test_permissions_boundary_caps_the_role():
    role = Role("arn:aws:iam::123456789012:role/R", "R", (policy(allow("*")),),
                boundary=Policy.from_document("boundary", {"Statement": [allow(["s3:*", "sagemaker:*"])]}))
    assert role.evaluate("s3:GetObject", BUCKET).allowed
    assert role.evaluate("lambda:InvokeFunction", "*").reason == BOUNDARY_DENY


def test_single_statement_and_string_documents():
    assert Policy.from_document("p", '{"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}').statements
    assert Policy.from_document("p", "%7B%22Statement%22%3A%5B%5D%7D").statements == ()  # URL-encoded, as IAM returns it


@pytest.mark.parametrize("document, message", [
    ({}, "has no Statement"),
    ({"Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]}, "Effect must be Allow or Deny"),
    ({"Statement": [{"Effect": "Allow", "Resource": "*"}]}, "exactly one of Action and NotAction"),
    ({"Statement": [{"Effect": "Allow", "Action": "*"}]}, "exactly one of Resource and NotResource"),
    ({"Statement": [{"Effect": "Allow", "Action": [1], "Resource": "*"}]}, "must be a string or a list of strings"),
])
def test_malformed_policies_are_refused(document, message):
    with pytest.raises(PolicyError, match=message):
        Policy.from_document("bad", document)
