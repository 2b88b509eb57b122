"""The batch transform runtime on its own: filters, batching, the model behind HTTP, timeouts and retries."""
import json

import pytest

from harness.sagemaker import serving
from harness.sagemaker.backends.docker import DockerBackend
from harness.sagemaker.backends.process import ProcessBackend
from harness.sagemaker.transform import MiB, JsonPath, Plan, TransformError, run_transform_job
from job_requests import BUCKET, s3_uri
from service_kit import LINEAR_SCRIPT, tarball, transform_request


@pytest.mark.parametrize("path, value, expected", [
    ("$", [1, 2], [1, 2]),
    ("$[1:]", ["id", "a", "b"], ["a", "b"]),
    ("$[:-1]", ["a", "b", "label"], ["a", "b"]),
    ("$[0,-1]", ["id", "a", "score"], ["id", "score"]),
    ("$[2]", ["a", "b", "c"], "c"),
    ("$.features", {"id": 1, "features": [1, 2]}, [1, 2]),
    ("$['id','SageMakerOutput']", {"id": 1, "x": 2, "SageMakerOutput": 3}, {"id": 1, "SageMakerOutput": 3}),
    ('$["a b"]', {"a b": 5}, 5),
    ("$.data.features[0:2]", {"data": {"features": [1, 2, 3]}}, [1, 2]),
    ("$.*", {"a": 1, "b": 2}, [1, 2]),
    ("$[*]", [3, 4], [3, 4]),
])
def test_json_path_filters(path, value, expected):
    assert JsonPath.compile(path, "DataProcessing.InputFilter").apply(value) == expected


@pytest.mark.parametrize("path", ["features", "$..x", "$[?(@.a)]", "$[a]", "$.a["])
def test_json_paths_drydock_does_not_take_are_named(path):
    with pytest.raises(TransformError) as exc:
        JsonPath.compile(path, "DataProcessing.OutputFilter")
    assert str(exc.value).startswith(f"ClientError: DataProcessing.OutputFilter {path!r}")


def test_multi_record_batches_fill_max_payload():
    plan = Plan.of({**transform_request("j", "m", "s3://b/in", "s3://b/out"), "MaxPayloadInMB": 1})
    records = [b"x" * (MiB // 3)] * 7
    assert plan.batches(records) == [[0, 1], [2, 3], [4, 5], [6]]  # three would need 2 separators more than 1 MB
    with pytest.raises(TransformError, match=r"record 2 is 1048577 bytes, more than MaxPayloadInMB \(1 MB\)"):
        plan.batches([b"x", b"x" * (MiB + 1)])
    single = Plan.of({**transform_request("j", "m", "s3://b/in", "s3://b/out"), "BatchStrategy": "SingleRecord"})
    assert single.batches([b"a", b"b"]) == [[0], [1]]


def test_answers_that_do_not_split_into_records_are_refused_when_joining():
    plan = Plan.of({**transform_request("j", "m", "s3://b/in", "s3://b/out"),
                    "DataProcessing": {"JoinSource": "Input"}})
    raw = [b"1,2", b"3,4"]
    assert plan.assemble(raw, [[0, 1]], [b"0.5\n0.7\n"]) == b"1,2,0.5\n3,4,0.7\n"
    with pytest.raises(Exception, match="the model answered 1 lines for a request of 2 records"):
        plan.assemble(raw, [[0, 1]], [b'{"predictions": [0.5, 0.7]}'])


class InProcessDockerServer(serving.InProcessServer):
    """Stands in for `DockerServer`: the same HTTP contract, served from this process."""

    container = None


@pytest.fixture
def linear(s3):
    """A LINEAR_SCRIPT container definition (weights 1, 2), its code unpacked from model.tar.gz's code/."""
    def make(key: str, **settings):
        s3.put_object(Bucket=BUCKET, Key=f"{key}/model.tar.gz", Body=tarball({
            "weights.json": json.dumps({"weights": [1.0, 2.0], **settings}), "code/inference.py": LINEAR_SCRIPT}))
        return {"Image": "python", "ModelDataUrl": s3_uri(f"{key}/model.tar.gz")}
    return make


def test_the_docker_backend_serves_over_http(s3, work_dir, linear, monkeypatch):
    from harness.sagemaker.backends import docker

    monkeypatch.setattr(docker, "DockerServer", InProcessDockerServer)
    s3.put_object(Bucket=BUCKET, Key="rt-http/in/a.csv", Body=b"1,1\n2,2\n")
    request = transform_request("rt-http", "m", s3_uri("rt-http/in"), s3_uri("rt-http/out"))
    result = run_transform_job(request, s3, DockerBackend(client=object()), work_dir,
                               container=linear("rt-http"))
    assert (result.status, result.failure_reason) == ("Completed", None)
    assert result.output_artifacts == {"a.csv": s3_uri("rt-http/out/a.csv.out")}
    assert s3.get_object(Bucket=BUCKET, Key="rt-http/out/a.csv.out")["Body"].read() == b"3.0\n6.0\n"
    assert [p.status for p in result.phases] == ["Downloading", "Transforming"]


def test_an_invocation_past_its_timeout_fails_the_file(s3, work_dir, linear):
    s3.put_object(Bucket=BUCKET, Key="rt-slow/in/a.csv", Body=b"1,1\n")
    request = transform_request("rt-slow", "m", s3_uri("rt-slow/in"), s3_uri("rt-slow/out"),
                                ModelClientConfig={"InvocationsTimeoutInSeconds": 1, "InvocationsMaxRetries": 0})
    result = run_transform_job(request, s3, ProcessBackend(), work_dir, container=linear("rt-slow", sleep=3))
    assert result.status == "Failed"
    assert result.failure_reason == (
        f"AlgorithmError: {s3_uri('rt-slow/in/a.csv')}: the model did not answer /invocations within 1 s "
        "(ModelClientConfig.InvocationsTimeoutInSeconds). See job logs for more information.")
    assert result.seconds_in("Transforming") < 2.5  # the sleeping invocation is not waited for


def test_a_failing_request_is_retried_as_model_client_config_says(s3, work_dir, linear):
    s3.put_object(Bucket=BUCKET, Key="rt-retry/in/a.csv", Body=b"7,1\n")
    request = transform_request("rt-retry", "m", s3_uri("rt-retry/in"), s3_uri("rt-retry/out"),
                                ModelClientConfig={"InvocationsMaxRetries": 2})
    result = run_transform_job(request, s3, ProcessBackend(), work_dir, container=linear("rt-retry", raise_on=7))
    assert result.status == "Failed"
    tracebacks = [event for event in result.logs if event["message"] == "Traceback (most recent call last):"]
    assert len(tracebacks) == 3  # the first attempt and two retries
    assert [event["message"] for event in result.data_log][-1].endswith(
        "AlgorithmError: Bad HTTP status received from algorithm: 500: ValueError: feature 0 is 7.0: the model "
        "cannot score it")


def test_an_unknown_backend_fails_the_job_saying_so(s3, work_dir, linear, monkeypatch):
    from harness.sagemaker.backends import make_backend

    monkeypatch.setenv("DRYDOCK_BACKEND", "kubernetes")
    s3.put_object(Bucket=BUCKET, Key="rt-nobackend/in/a.csv", Body=b"1,1\n")
    request = transform_request("rt-nobackend", "m", s3_uri("rt-nobackend/in"), s3_uri("rt-nobackend/out"))
    result = run_transform_job(request, s3, make_backend(), work_dir, container=linear("rt-nobackend"))
    assert (result.status, result.failure_reason) == (
        "Failed", "ClientError: DRYDOCK_BACKEND='kubernetes' names an unknown backend 'kubernetes': choose one of "
                  "process, docker")
