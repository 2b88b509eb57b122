"""Definitions refused before anything runs, and the values steps compute: references, functions, conditions."""
import json

import pytest
from botocore.exceptions import ClientError

from harness.sagemaker.pipelines import api
from harness.sagemaker.pipelines.conditions import compile_condition
from harness.sagemaker.pipelines.definition import DefinitionError, parse_definition, parse_duration
from harness.sagemaker.pipelines.expressions import EvaluationError, compile_value
from pipeline_kit import local_cloud

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"
TRAIN = {
    "Name": "Train", "Type": "Training",
    "Arguments": {"AlgorithmSpecification": {"TrainingImage": "xgboost:1", "TrainingInputMode": "File"},
                  "OutputDataConfig": {"S3OutputPath": "s3://bucket/models"}, "RoleArn": ROLE,
                  "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1},
                  "StoppingCondition": {"MaxRuntimeInSeconds": 60}},
}


def definition(*steps, parameters=()):
    return {"Version": "2020-12-01", "Parameters": list(parameters), "Steps": list(steps)}


def register(model_data):
    return {"Name": "Register", "Type": "RegisterModel", "Arguments": {
        "ModelPackageGroupName": "g", "InferenceSpecification": {
            "Containers": [{"Image": "xgboost:1", "ModelDataUrl": {"Get": model_data}}],
            "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}}}


@pytest.fixture(scope="module")
def sm(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(api, "SERVICE", api.PipelineService(work_dir=tmp_path_factory.mktemp("pipelines")))
        yield local_cloud().client("sagemaker")


def create(sm, body, name="p"):
    return sm.create_pipeline(PipelineName=name, PipelineDefinition=json.dumps(body), RoleArn=ROLE,
                              ClientRequestToken="t" * 32)


def test_a_dangling_property_path_names_the_step_and_the_path(sm):
    with pytest.raises(ClientError) as err:
        create(sm, definition(TRAIN, register("Steps.Train.ModelArtifacts.S3ModelArtifact")))
    error = err.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "step 'Register' refers to Steps.Train.ModelArtifacts.S3ModelArtifact" in error["Message"]
    assert "DescribeTrainingJobResponse.ModelArtifacts has no member 'S3ModelArtifact'" in error["Message"]
    assert "/Steps/1/Arguments/InferenceSpecification/Containers/0/ModelDataUrl/Get" in error["Message"]


def test_a_reference_to_a_missing_step_or_parameter_is_refused():
    with pytest.raises(DefinitionError) as err:
        parse_definition(definition(register("Steps.Training.ModelArtifacts.S3ModelArtifacts")))
    assert "step 'Register' refers to Steps.Training.ModelArtifacts.S3ModelArtifacts: there is no step " \
           "'Training'" in str(err.value)
    fail = {"Name": "Stop", "Type": "Fail", "Arguments": {"ErrorMessage": {"Get": "Parameters.Missing"}}}
    with pytest.raises(DefinitionError, match="step 'Stop' refers to Parameters.Missing, which is not a parameter"):
        parse_definition(definition(fail))
    with pytest.raises(DefinitionError, match="declares no PropertyFile 'Report'"):
        parse_definition(definition(TRAIN, {"Name": "Check", "Type": "Condition", "Arguments": {"Conditions": [{
            "Type": "Equals", "RightValue": 1, "LeftValue": {"Std:JsonGet": {
                "PropertyFile": {"Get": "Steps.Train.PropertyFiles.Report"}, "Path": "a"}}}]}}))


def test_list_and_map_properties_are_checked_against_the_describe_shape():
    ok = parse_definition(definition(TRAIN, register("Steps.Train.FinalMetricDataList['validation:auc'].Value")))
    assert ok.steps["Register"].dependencies == {"Train"}
    with pytest.raises(DefinitionError, match=r"FinalMetricDataList is a list; index it with \[n\] or \['name'\]"):
        parse_definition(definition(TRAIN, register("Steps.Train.FinalMetricDataList.Value")))


def test_unsupported_step_types_fail_with_the_step_and_its_type(sm):
    check = {"Name": "DataQuality", "Type": "QualityCheck", "Arguments": {}}
    with pytest.raises(ClientError) as err:
        create(sm, definition(TRAIN, check), name="unsupported")
    message = err.value.response["Error"]["Message"]
    assert "step 'DataQuality' has type QualityCheck, which drydock does not run" in message
    assert "Processing, Training, Transform, Model, RegisterModel, Condition, Fail, Lambda, Callback" in message
    with pytest.raises(DefinitionError, match="step 'X' has unknown type 'Teleport'"):
        parse_definition(definition({"Name": "X", "Type": "Teleport"}))


def test_cycles_duplicates_and_unknown_depends_on_are_refused():
    a = {"Name": "A", "Type": "Fail", "DependsOn": ["B"]}
    b = {"Name": "B", "Type": "Fail", "DependsOn": ["A"]}
    with pytest.raises(DefinitionError, match="cycle: A -> B -> A"):
        parse_definition(definition(a, b))
    with pytest.raises(DefinitionError, match="step 'A' is defined twice"):
        parse_definition(definition({"Name": "A", "Type": "Fail"}, {"Name": "A", "Type": "Fail"}))
    with pytest.raises(DefinitionError, match="DependsOn 'Nope'"):
        parse_definition(definition({"Name": "A", "Type": "Fail", "DependsOn": ["Nope"]}))
    with pytest.raises(DefinitionError, match="Version must be '2020-12-01'"):
        parse_definition({"Version": "2017", "Steps": [{"Name": "A", "Type": "Fail"}]})


def test_parameters_convert_overrides_to_their_type():
    parsed = parse_definition(definition({"Name": "A", "Type": "Fail"}, parameters=[
        {"Name": "S", "Type": "String", "DefaultValue": "x"}, {"Name": "I", "Type": "Integer", "DefaultValue": 3},
        {"Name": "F", "Type": "Float", "DefaultValue": 0.5}, {"Name": "B", "Type": "Boolean", "DefaultValue": False},
        {"Name": "Required", "Type": "String"}]))
    values = api.resolve_parameters(parsed, [{"Name": "I", "Value": "7"}, {"Name": "B", "Value": "true"},
                                             {"Name": "F", "Value": "2"}, {"Name": "Required", "Value": "r"}])
    assert values == {"S": "x", "I": 7, "F": 2.0, "B": True, "Required": "r"}
    with pytest.raises(api.ApiError, match="Required have no default value"):
        api.resolve_parameters(parsed, [])
    with pytest.raises(api.ApiError, match="parameter B is Boolean"):
        api.resolve_parameters(parsed, [{"Name": "B", "Value": "yes"}, {"Name": "Required", "Value": "r"}])


class Scope:
    """Parameters, one execution variable, step properties and property files, for evaluating by hand."""

    def __init__(self, properties=None, files=None, documents=None):
        self.parameters = {"Threshold": 0.8, "Name": "churn", "Count": 3, "Flag": True}
        self.properties, self.files, self.documents = properties or {}, files or {}, documents or {}

    def parameter(self, name):
        return self.parameters[name]

    def execution_variable(self, name):
        return {"PipelineExecutionId": "abc123"}[name]

    def step_property(self, reference):
        from harness.sagemaker.pipelines.expressions import select

        return select(self.properties[reference.name], reference.path)

    def property_file(self, reference):
        return self.files[(reference.name, reference.property_file)]

    def read_json(self, uri):
        if uri not in self.documents:
            raise EvaluationError(f"cannot read {uri}")
        return self.documents[uri]


def test_get_join_and_json_get_evaluate_like_sagemaker():
    scope = Scope(properties={"Prep": {"ProcessingOutputConfig": {"Outputs": [
        {"OutputName": "train", "S3Output": {"S3Uri": "s3://b/train"}},
        {"OutputName": "test", "S3Output": {"S3Uri": "s3://b/test"}}]}}},
        files={("Eval", "Report"): {"metrics": {"auc": {"value": 0.91}}, "folds": [0.8, 0.9]}},
        documents={"s3://b/test/eval.json": {"mse": 1.5}})
    value = compile_value({
        "Uri": {"Get": "Steps.Prep.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"},
        "Second": {"Get": "Steps.Prep.ProcessingOutputConfig.Outputs[1].S3Output.S3Uri"},
        "Joined": {"Std:Join": {"On": "/", "Values": ["s3:/", "b", {"Get": "Execution.PipelineExecutionId"},
                                                     {"Get": "Parameters.Count"}, {"Get": "Parameters.Flag"}]}},
        "Auc": {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Eval.PropertyFiles.Report"},
                                "Path": "metrics.auc.value"}},
        "Fold": {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Eval.PropertyFiles.Report"}, "Path": "folds[1]"}},
        "Mse": {"Std:JsonGet": {"S3Uri": {"Std:Join": {"On": "/", "Values": [
            {"Get": "Steps.Prep.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"}, "eval.json"]}},
            "Path": "mse"}},
        "Plain": [1, {"a": "b"}],
    })
    assert value.evaluate(scope) == {"Uri": "s3://b/test", "Second": "s3://b/test", "Joined": "s3://b/abc123/3/true",
                                     "Auc": 0.91, "Fold": 0.9, "Mse": 1.5, "Plain": [1, {"a": "b"}]}
    missing = compile_value({"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Eval.PropertyFiles.Report"},
                                             "Path": "metrics.f1.value"}}, "/Steps/3/Arguments/Conditions/0")
    with pytest.raises(EvaluationError, match="path 'metrics.f1.value' not found"):
        missing.evaluate(scope)


@pytest.mark.parametrize("condition, expected", [
    ({"Type": "Equals", "LeftValue": {"Get": "Parameters.Name"}, "RightValue": "churn"}, True),
    ({"Type": "Equals", "LeftValue": {"Get": "Parameters.Count"}, "RightValue": 3.0}, True),
    ({"Type": "GreaterThan", "LeftValue": 0.9, "RightValue": {"Get": "Parameters.Threshold"}}, True),
    ({"Type": "GreaterThan", "LeftValue": 0.8, "RightValue": {"Get": "Parameters.Threshold"}}, False),
    ({"Type": "GreaterThanOrEqualTo", "LeftValue": 0.8, "RightValue": {"Get": "Parameters.Threshold"}}, True),
    ({"Type": "LessThan", "LeftValue": "0.5", "RightValue": {"Get": "Parameters.Threshold"}}, True),
    ({"Type": "LessThanOrEqualTo", "LeftValue": 0.81, "RightValue": {"Get": "Parameters.Threshold"}}, False),
    ({"Type": "In", "QueryValue": {"Get": "Parameters.Name"}, "Values": ["fraud", "churn"]}, True),
    ({"Type": "In", "QueryValue": {"Get": "Parameters.Count"}, "Values": [1, 2]}, False),
    ({"Type": "Not", "Condition": {"Type": "Equals", "LeftValue": 1, "RightValue": 2}}, True),
    ({"Type": "Or", "Conditions": [{"Type": "Equals", "LeftValue": 1, "RightValue": 2},
                                   {"Type": "LessThan", "LeftValue": 1, "RightValue": 2}]}, True),
    ({"Type": "Or", "Conditions": [{"Type": "Equals", "LeftValue": 1, "RightValue": 2}]}, False),
])
def test_every_condition_type(condition, expected):
    assert compile_condition(condition, "/c").evaluate(Scope()) is expected


def test_malformed_conditions_and_durations_are_refused():
    with pytest.raises(ValueError, match="unknown condition Type 'Between'"):
        compile_condition({"Type": "Between"}, "/c")
    with pytest.raises(ValueError, match="condition In needs QueryValue"):
        compile_condition({"Type": "In", "Values": [1]}, "/c")
    assert parse_duration("PT1H30M").total_seconds() == 5400
    assert parse_duration("P30D").days == 30
    with pytest.raises(ValueError, match="not an ISO 8601 duration"):
        parse_duration("1h")
