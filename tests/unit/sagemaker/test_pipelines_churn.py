"""The churn pipeline, built with the SageMaker SDK v2 as a user writes it, run by drydock's Pipelines executor.

The SDK upserts and starts it through boto3 (drydock's overlay answers the pipeline actions in-process); the
churn scripts run as real jobs on the process backend; the model lands in the Model Registry.
"""
import io
import json
import tarfile
import time

import pytest
from botocore.exceptions import ClientError

from fixtures.churn import generate
from harness.sagemaker.pipelines import api
from pipeline_kit import (ROLE, churn_pipeline, local_cloud, pipeline_session, sdk_environment, steps_by_name,
                          wait_for)

BUCKET = "drydock-pipelines-churn"
PIPELINE = "churn-pipeline"
GROUP = "churn-models"
ROWS = 1500


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    with sdk_environment(tmp_path_factory.mktemp("sdk")):
        cloud = local_cloud()
        cloud.client("s3").create_bucket(Bucket=BUCKET)
        cloud.client("s3").put_object(Bucket=BUCKET, Key="churn/raw/churn.csv",
                                      Body=generate(ROWS, seed=7).to_csv(index=False).encode())
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(api, "SERVICE", api.PipelineService(work_dir=tmp_path_factory.mktemp("pipelines")))
            yield cloud
            api.SERVICE.close()


@pytest.fixture(scope="module")
def sm(cloud):
    return cloud.client("sagemaker")


@pytest.fixture(scope="module")
def pipeline(cloud):
    pipeline = churn_pipeline(pipeline_session(cloud, BUCKET), PIPELINE, BUCKET, GROUP)
    pipeline.upsert(role_arn=ROLE)
    return pipeline


@pytest.fixture(scope="module")
def first_run(pipeline, sm):
    started = time.monotonic()
    execution = pipeline.start()
    described = wait_for(sm, execution.arn)
    return {"arn": execution.arn, "execution": execution, "described": described,
            "seconds": time.monotonic() - started, "steps": steps_by_name(sm, execution.arn)}


@pytest.fixture(scope="module")
def cached_run(first_run, pipeline, sm):
    started = time.monotonic()
    execution = pipeline.start()
    described = wait_for(sm, execution.arn)
    return {"arn": execution.arn, "described": described, "seconds": time.monotonic() - started,
            "steps": steps_by_name(sm, execution.arn)}


def test_definition_round_trips_through_create_and_describe(pipeline, sm):
    described = sm.describe_pipeline(PipelineName=PIPELINE)
    assert described["PipelineArn"].endswith(f":pipeline/{PIPELINE}")
    assert described["PipelineStatus"] == "Active"
    assert json.loads(described["PipelineDefinition"]) == json.loads(pipeline.definition())
    pipeline.upsert(role_arn=ROLE, description="churn, again")  # the SDK's update path: ValidationException first
    assert sm.describe_pipeline(PipelineName=PIPELINE)["PipelineDescription"] == "churn, again"


def test_pipeline_succeeds_and_registers_the_model(first_run, sm, cloud):
    assert first_run["described"]["PipelineExecutionStatus"] == "Succeeded", first_run["steps"]
    packages = sm.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    assert [(p["ModelPackageVersion"], p["ModelApprovalStatus"]) for p in packages] == [(1, "PendingManualApproval")]
    package = sm.describe_model_package(ModelPackageName=packages[0]["ModelPackageArn"])
    statistics = package["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["ContentType"] == "application/json"
    assert statistics["S3Uri"].endswith("/evaluation.json")
    evaluation = json.loads(_read(cloud, statistics["S3Uri"]))
    assert evaluation["binary_classification_metrics"]["auc"]["value"] >= 0.7
    model_url = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    with tarfile.open(fileobj=io.BytesIO(_read(cloud, model_url))) as tar:
        assert tar.getnames() == ["xgboost-model"]


def test_list_steps_has_aws_shape_and_metadata_per_step_type(first_run, sm):
    steps = first_run["steps"]
    assert set(steps) == {"Preprocess", "Train", "Evaluate", "CheckAuc", "Register-RegisterModel"}
    assert set(steps["Preprocess"]["Metadata"]) == {"ProcessingJob"}
    assert ":processing-job/pipelines-" in steps["Preprocess"]["Metadata"]["ProcessingJob"]["Arn"]
    assert ":training-job/pipelines-" in steps["Train"]["Metadata"]["TrainingJob"]["Arn"]
    assert steps["CheckAuc"]["Metadata"] == {"Condition": {"Outcome": "True"}}
    assert steps["Register-RegisterModel"]["Metadata"]["RegisterModel"]["Arn"].endswith(f"/{GROUP}/1")
    for step in steps.values():
        assert step["StepStatus"] == "Succeeded"
        assert step["AttemptCount"] == 1
        assert step["StartTime"] <= step["EndTime"]
        assert "CacheHitResult" not in step
    order = [step["StepName"] for step in sm.list_pipeline_execution_steps(
        PipelineExecutionArn=first_run["arn"], SortOrder="Ascending")["PipelineExecutionSteps"]]
    assert order.index("Preprocess") < order.index("Train") < order.index("Evaluate") < order.index("CheckAuc")
    # the SDK's own view of the same execution
    assert {step["StepName"] for step in first_run["execution"].list_steps()} == set(steps)
    execution_id = first_run["arn"].rsplit("/", 1)[-1]
    [summary] = sm.list_training_jobs(NameContains=f"{execution_id}-Train")["TrainingJobSummaries"]
    training = sm.describe_training_job(TrainingJobName=summary["TrainingJobName"])
    assert training["TrainingJobArn"] == steps["Train"]["Metadata"]["TrainingJob"]["Arn"]
    assert training["TrainingJobStatus"] == "Completed"
    assert training["HyperParameters"]["num_round"] == "40"  # Std:Join of the Integer parameter


def test_rerun_hits_the_cache_and_returns_the_same_outputs(first_run, cached_run):
    assert cached_run["described"]["PipelineExecutionStatus"] == "Succeeded"
    for name in ("Preprocess", "Train", "Evaluate"):
        step = cached_run["steps"][name]
        assert step["CacheHitResult"] == {"SourcePipelineExecutionArn": first_run["arn"]}
        assert step["Metadata"] == first_run["steps"][name]["Metadata"]  # the original jobs, nothing re-ran
    assert "CacheHitResult" not in cached_run["steps"]["Register-RegisterModel"]  # not a cacheable step
    assert cached_run["steps"]["Register-RegisterModel"]["Metadata"]["RegisterModel"]["Arn"].endswith(f"/{GROUP}/2")
    assert cached_run["seconds"] < 2.0 < first_run["seconds"]


def test_unreachable_threshold_takes_the_else_branch_and_fails(cached_run, pipeline, sm):
    execution = pipeline.start(parameters={"AucThreshold": 1.01})
    described = wait_for(sm, execution.arn)
    steps = steps_by_name(sm, execution.arn)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert described["FailureReason"] == "AUC below 1.01"  # the FailStep's ErrorMessage, with the override
    assert steps["CheckAuc"]["Metadata"] == {"Condition": {"Outcome": "False"}}
    assert steps["AucTooLow"]["StepStatus"] == "Failed"
    assert steps["AucTooLow"]["FailureReason"] == "AUC below 1.01"
    assert steps["AucTooLow"]["Metadata"] == {"Fail": {"ErrorMessage": "AUC below 1.01"}}
    assert "Register-RegisterModel" not in steps
    parameters = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=execution.arn)["PipelineParameters"]
    assert {"Name": "AucThreshold", "Value": "1.01"} in parameters
    assert {"Name": "NumRound", "Value": "40"} in parameters


def test_parameter_overrides_are_checked(pipeline, sm):
    with pytest.raises(ClientError) as err:
        pipeline.start(parameters={"NumRound": "forty"})
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "NumRound is Integer" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        sm.start_pipeline_execution(PipelineName=PIPELINE, PipelineParameters=[{"Name": "Nope", "Value": "1"}])
    assert "'Nope' is not defined" in err.value.response["Error"]["Message"]


def test_executions_are_listed_newest_first(cached_run, first_run, sm):
    summaries = sm.list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]
    arns = [summary["PipelineExecutionArn"] for summary in summaries]
    assert arns.index(cached_run["arn"]) < arns.index(first_run["arn"])


def test_lineage_links_data_jobs_model_and_package(first_run):
    graph = api.SERVICE.find_execution(first_run["arn"]).lineage_graph(first_run["arn"]).to_api()
    actions = {entity["Source"]["SourceUri"]: entity["ActionArn"]
               for entity in graph["Entities"] if "ActionArn" in entity}
    artifacts = {(entity["ArtifactType"], entity["Source"]["SourceUri"]): entity["ArtifactArn"]
                 for entity in graph["Entities"] if "ArtifactArn" in entity}
    edges = {(a["SourceArn"], a["AssociationType"], a["DestinationArn"]) for a in graph["Associations"]}
    steps = first_run["steps"]
    train = actions[steps["Train"]["Metadata"]["TrainingJob"]["Arn"]]
    evaluate = actions[steps["Evaluate"]["Metadata"]["ProcessingJob"]["Arn"]]
    package_arn = steps["Register-RegisterModel"]["Metadata"]["RegisterModel"]["Arn"]
    register = actions[package_arn]
    [model] = [arn for (kind, _), arn in artifacts.items() if kind == "Model"]
    assert (train, "Produced", model) in edges
    assert (model, "ContributedTo", evaluate) in edges
    assert (model, "ContributedTo", register) in edges
    assert (register, "Produced", artifacts[("ModelPackage", package_arn)]) in edges
    assert (artifacts[("DataSet", f"s3://{BUCKET}/churn/raw")], "ContributedTo",
            actions[steps["Preprocess"]["Metadata"]["ProcessingJob"]["Arn"]]) in edges
    contexts = [entity for entity in graph["Entities"] if entity.get("ContextType") == "SageMakerPipelineExecution"]
    assert [context["Source"]["SourceUri"] for context in contexts] == [first_run["arn"]]


def _read(cloud, uri):
    bucket, _, key = uri[len("s3://"):].partition("/")
    return cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def test_drydock_lineage_prints_the_graph(first_run, capsys):
    from harness import cli

    assert cli.main(["lineage", first_run["arn"]]) == 0
    out = capsys.readouterr().out
    assert first_run["arn"] in out and "Succeeded" in out
    for step in ("Preprocess", "Train", "Evaluate", "Register-RegisterModel"):
        assert step in out
    assert f"<- DataSet      s3://{BUCKET}/churn/raw" in out
    assert "-> Model" in out and "model.tar.gz" in out
    assert cli.main(["lineage", first_run["arn"], "--json"]) == 0
    graph = json.loads(capsys.readouterr().out)
    assert {entity["LineageType"] for entity in graph["Entities"]} == {"Artifact", "Action", "Context"}
    assert any(edge["AssociationType"] == "Produced" for edge in graph["Associations"])
    assert cli.main(["lineage", first_run["arn"] + "x"]) == 2
    assert "no pipeline execution" in capsys.readouterr().err
