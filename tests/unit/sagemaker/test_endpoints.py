"""Endpoints that really serve: CreateEndpoint -> InService -> InvokeEndpoint, updates under traffic, data capture.

The models are tiny XGBoost boosters trained here; model configs and S3 are moto's (the directory's conftest).
Every call goes through boto3: the overlay's botocore hook brings the endpoint actions to drydock.
"""
import base64
import io
import json
import socket
import tarfile
import threading
import time

import boto3
import numpy as np
import pytest
import xgboost as xgb

from botocore.exceptions import ClientError

from harness import cli
from harness.cloud import LocalCloud
from harness.overlay import OVERLAY, ServiceError
from harness.sagemaker import endpoints as endpoints_module
from harness.sagemaker.endpoints import EndpointService
from job_requests import BUCKET, PIPELINE_SCRIPTS, REGION, ROLE, SKLEARN_IMAGE, XGBOOST_IMAGE, s3_uri

ACCOUNT = "123456789012"
FEATURES = 4
ROWS = np.random.default_rng(7).normal(size=(6, FEATURES)).round(4)

pytestmark = pytest.mark.usefixtures("serve_process")  # started with the module: its start-up overlaps the tests


class _Clients:
    """boto3 clients of the module's moto mock, made once (what LocalCloud does in-process).

    Their session is made after the overlay's hook is installed, so it carries the hook.
    """

    def __init__(self):
        self._session = boto3.session.Session(region_name=REGION)
        self._clients = {}

    def client(self, service):
        if service not in self._clients:
            self._clients[service] = self._session.client(service)
        return self._clients[service]


@pytest.fixture(scope="module")
def clients(s3):
    OVERLAY.intercept_botocore(True)
    yield _Clients()
    OVERLAY.intercept_botocore(False)


@pytest.fixture(scope="module")
def runtime(clients):
    return clients.client("sagemaker-runtime")


@pytest.fixture(scope="module")
def sagemaker(clients):
    return clients.client("sagemaker")


@pytest.fixture
def service(clients, tmp_path):
    service = EndpointService(lambda account, region: clients, tmp_path)
    previous = endpoints_module.install(service)
    yield service
    endpoints_module.install(previous)
    service.close()


@pytest.fixture
def api(service):
    """The Python side of the endpoints (waiting, flushing captures, looking at servers); calls go through boto3."""
    return service.region(ACCOUNT, REGION)


def train_booster(seed, flip=False):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(200, FEATURES))
    labels = (features[:, 0] + 0.5 * features[:, 1] > 0).astype(int)
    if flip:
        labels = 1 - labels
    return xgb.train({"objective": "binary:logistic", "max_depth": 2, "eta": 0.5, "seed": seed},
                     xgb.DMatrix(features, label=labels), num_boost_round=5)


def predict(booster, rows):
    return booster.predict(xgb.DMatrix(rows))


def upload_model(s3, key, files):
    """Tar {name: bytes} as model.tar.gz at `key` in the test bucket; returns its S3 URI."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    s3.put_object(Bucket=BUCKET, Key=key, Body=buffer.getvalue())
    return s3_uri(key)


def model_files(booster):
    """What train.py leaves in /opt/ml/model, which the platform tars as model.tar.gz."""
    return {"xgboost-model": bytes(booster.save_raw("json"))}


def create_model(sagemaker, name, model_data_url, environment=None):
    container = {"Image": XGBOOST_IMAGE, "ModelDataUrl": model_data_url}
    if environment:
        container["Environment"] = environment
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer=container)


def create_config(sagemaker, name, model_name, variant="AllTraffic", capture=None):
    params = {"EndpointConfigName": name,
              "ProductionVariants": [{"VariantName": variant, "ModelName": model_name, "InitialInstanceCount": 1,
                                      "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0}]}
    if capture:
        params["DataCaptureConfig"] = capture
    sagemaker.create_endpoint_config(**params)


def deploy(api, sagemaker, s3, name, files, environment=None, capture=None):
    """Model + endpoint config (moto) and CreateEndpoint (drydock); returns the status it settles in."""
    create_model(sagemaker, f"{name}-model", upload_model(s3, f"endpoints/{name}/model.tar.gz", files), environment)
    create_config(sagemaker, f"{name}-config", f"{name}-model", capture=capture)
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")
    return api.wait(name, timeout=30)


def csv_body(rows):
    return "\n".join(",".join(str(v) for v in row) for row in rows).encode()


def invoke(runtime, name, body, content_type="text/csv", **extra):
    response = runtime.invoke_endpoint(EndpointName=name, Body=body, ContentType=content_type, **extra)
    return {**response, "Body": response["Body"].read()}


def scores(response):
    return [float(line) for line in response["Body"].decode().splitlines()]


def port_open(port):
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def error_of(raised):
    return raised.value.response["Error"]


def test_xgboost_endpoint_serves_the_models_own_predictions(api, sagemaker, runtime, s3):
    booster = train_booster(1)
    create_model(sagemaker, "churn-model", upload_model(s3, "endpoints/churn/model.tar.gz", model_files(booster)))
    create_config(sagemaker, "churn-config", "churn-model")
    created = sagemaker.create_endpoint(EndpointName="churn", EndpointConfigName="churn-config")
    assert created["EndpointArn"] == f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/churn"
    assert sagemaker.describe_endpoint(EndpointName="churn")["EndpointStatus"] in ("Creating", "InService")
    assert api.wait("churn") == "InService"

    described = sagemaker.describe_endpoint(EndpointName="churn")
    assert described["EndpointConfigName"] == "churn-config"
    assert described["CreationTime"] <= described["LastModifiedTime"]
    variant, = described["ProductionVariants"]
    assert (variant["VariantName"], variant["CurrentWeight"], variant["CurrentInstanceCount"]) == ("AllTraffic", 1, 1)
    assert variant["DeployedImages"][0]["SpecifiedImage"] == XGBOOST_IMAGE
    assert "DataCaptureConfig" not in described

    response = invoke(runtime, "churn", csv_body(ROWS))
    assert (response["ContentType"], response["InvokedProductionVariant"]) == ("text/csv", "AllTraffic")
    np.testing.assert_allclose(scores(response), predict(booster, ROWS), rtol=1e-6)

    as_json = json.loads(invoke(runtime, "churn", json.dumps({"instances": ROWS.tolist()}).encode(),
                                "application/json", Accept="application/json")["Body"])
    np.testing.assert_allclose([p["score"] for p in as_json["predictions"]], predict(booster, ROWS), rtol=1e-6)
    libsvm = "\n".join("0 " + " ".join(f"{i}:{v}" for i, v in enumerate(row)) for row in ROWS).encode()
    np.testing.assert_allclose(scores(invoke(runtime, "churn", libsvm, "text/libsvm")), predict(booster, ROWS),
                               rtol=1e-6)

    listed = sagemaker.list_endpoints()["Endpoints"]
    assert [(e["EndpointName"], e["EndpointStatus"]) for e in listed] == [("churn", "InService")]

    with pytest.raises(ClientError) as raised:  # the container refuses the content type: ModelError with its status
        invoke(runtime, "churn", b"{}", "application/x-image")
    error = error_of(raised)
    assert (error["Code"], raised.value.response["ResponseMetadata"]["HTTPStatusCode"]) == ("ModelError", 424)
    assert error["Message"].startswith('Received client error (415) from primary with message "content type')
    assert raised.value.response["OriginalStatusCode"] == 415


def test_inference_scripts_from_the_submit_directory_and_from_the_tarball(api, sagemaker, runtime, s3):
    booster = train_booster(2)
    source = io.BytesIO()
    with tarfile.open(fileobj=source, mode="w:gz") as tar:
        tar.add(PIPELINE_SCRIPTS / "inference.py", arcname="inference.py")
    s3.put_object(Bucket=BUCKET, Key="endpoints/scripted/source/sourcedir.tar.gz", Body=source.getvalue())
    environment = {"SAGEMAKER_PROGRAM": "inference.py",  # as the SDK's XGBoostModel(entry_point=...) sets them
                   "SAGEMAKER_SUBMIT_DIRECTORY": s3_uri("endpoints/scripted/source/sourcedir.tar.gz")}
    assert deploy(api, sagemaker, s3, "scripted", model_files(booster), environment) == "InService"
    response = invoke(runtime, "scripted", csv_body(ROWS), Accept="application/json")
    assert response["ContentType"] == "application/json"
    np.testing.assert_allclose(json.loads(response["Body"])["predictions"], predict(booster, ROWS), rtol=1e-6)
    with pytest.raises(ClientError) as raised:  # the script's own error, as the container reports it
        invoke(runtime, "scripted", b"[[1, 2]]", "application/json")
    assert raised.value.response["OriginalStatusCode"] == 500
    assert "ValueError: unsupported content type application/json; send text/csv" in error_of(raised)["Message"]

    # code/inference.py inside model.tar.gz (the SDK's repacked model); it overrides only output_fn
    script = b"import json\n\ndef output_fn(prediction, accept):\n" \
             b"    return json.dumps({'churn': [round(float(p), 3) for p in prediction]}), 'application/json'\n"
    assert deploy(api, sagemaker, s3, "repacked", {**model_files(booster), "code/inference.py": script}) == "InService"
    churn = json.loads(invoke(runtime, "repacked", csv_body(ROWS))["Body"])["churn"]
    np.testing.assert_allclose(churn, predict(booster, ROWS), atol=1e-3)


def test_update_switches_models_without_a_failed_request(api, sagemaker, runtime, s3):
    first, second = train_booster(3), train_booster(3, flip=True)
    assert deploy(api, sagemaker, s3, "live", model_files(first)) == "InService"
    create_model(sagemaker, "live-v2-model", upload_model(s3, "endpoints/live-v2/model.tar.gz", model_files(second)))
    create_config(sagemaker, "live-v2-config", "live-v2-model", variant="Blue")
    expected = {"AllTraffic": predict(first, ROWS[:1])[0], "Blue": predict(second, ROWS[:1])[0]}
    assert expected["AllTraffic"] != pytest.approx(expected["Blue"], rel=1e-3)
    answers, failures, stop = [[] for _ in range(3)], [], threading.Event()

    def traffic(seen):
        while not stop.is_set():
            try:
                response = invoke(runtime, "live", csv_body(ROWS[:1]))
                seen.append((response["InvokedProductionVariant"], scores(response)[0]))
            except Exception as error:  # noqa: BLE001 (every failure counts)
                failures.append(error)

    threads = [threading.Thread(target=traffic, args=(seen,)) for seen in answers]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.1)
        old_port = api._endpoints["live"].live.variants["AllTraffic"].server.port
        sagemaker.update_endpoint(EndpointName="live", EndpointConfigName="live-v2-config")
        updating = sagemaker.describe_endpoint(EndpointName="live")
        assert updating["EndpointStatus"] == "Updating"
        assert updating["PendingDeploymentSummary"]["EndpointConfigName"] == "live-v2-config"
        assert api.wait("live") == "InService"
        time.sleep(0.1)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    for seen in answers:  # each client sees the old model, then only the new one
        variants = [variant for variant, _ in seen]
        switch = variants.index("Blue")
        assert switch > 0 and set(variants[:switch]) == {"AllTraffic"} and set(variants[switch:]) == {"Blue"}
        for variant, score in seen:
            assert score == pytest.approx(expected[variant], rel=1e-6)
    described = sagemaker.describe_endpoint(EndpointName="live")
    assert described["EndpointConfigName"] == "live-v2-config"
    assert [v["VariantName"] for v in described["ProductionVariants"]] == ["Blue"]
    assert "PendingDeploymentSummary" not in described
    assert not port_open(old_port)


def test_delete_stops_the_server(api, sagemaker, s3):
    assert deploy(api, sagemaker, s3, "doomed", model_files(train_booster(4))) == "InService"
    port = api._endpoints["doomed"].live.variants["AllTraffic"].server.port
    assert port_open(port)
    sagemaker.delete_endpoint(EndpointName="doomed")
    assert not port_open(port)
    with pytest.raises(ClientError) as raised:
        sagemaker.describe_endpoint(EndpointName="doomed")
    assert error_of(raised) == {
        "Code": "ValidationException",
        "Message": f'Could not find endpoint "arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/doomed".'}
    assert sagemaker.list_endpoints()["Endpoints"] == []


def test_data_capture_writes_aws_capture_records(api, sagemaker, runtime, s3):
    booster = train_booster(5)
    capture = {"EnableCapture": True, "InitialSamplingPercentage": 100,
               "DestinationS3Uri": s3_uri("capture/"),
               "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
               "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]}}
    assert deploy(api, sagemaker, s3, "watched", model_files(booster), capture=capture) == "InService"
    summary = sagemaker.describe_endpoint(EndpointName="watched")["DataCaptureConfig"]
    assert summary == {"EnableCapture": True, "CaptureStatus": "Started", "CurrentSamplingPercentage": 100,
                       "DestinationS3Uri": s3_uri("capture/")}
    for row in ROWS[:3]:
        invoke(runtime, "watched", csv_body([row]), InferenceId=f"row-{row[0]}")
    invoke(runtime, "watched", json.dumps({"instances": ROWS[:1].tolist()}).encode(), "application/json",
           Accept="application/json")
    api.flush_capture()

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="capture/")["Contents"]]
    assert keys and all(k.startswith("capture/watched/AllTraffic/") and k.endswith(".jsonl") for k in keys)
    year, month, day, hour, file_name = keys[0].split("/")[3:]
    assert (len(year), len(month), len(day), len(hour), len(file_name)) == (4, 2, 2, 2, 36 + len(".jsonl"))
    records = [json.loads(line) for key in keys
               for line in s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().splitlines()]
    assert len(records) == 4
    first = next(r for r in records if r["eventMetadata"].get("inferenceId") == f"row-{ROWS[0][0]}")
    assert first["eventVersion"] == "0"
    assert set(first["eventMetadata"]) == {"eventId", "inferenceTime", "inferenceId"}
    assert first["eventMetadata"]["inferenceTime"].startswith(f"{year}-{month}-{day}T{hour}:")
    assert first["captureData"]["endpointInput"] == {"observedContentType": "text/csv", "mode": "INPUT",
                                                     "data": csv_body([ROWS[0]]).decode(), "encoding": "CSV"}
    output = first["captureData"]["endpointOutput"]
    assert (output["mode"], output["encoding"], output["observedContentType"]) == ("OUTPUT", "CSV", "text/csv")
    assert float(output["data"]) == pytest.approx(float(predict(booster, ROWS[:1])[0]), rel=1e-6)
    as_json = next(r for r in records if r["captureData"]["endpointInput"]["observedContentType"] == "application/json")
    assert as_json["captureData"]["endpointInput"]["encoding"] == "BASE64"  # not among JsonContentTypes
    assert json.loads(base64.b64decode(as_json["captureData"]["endpointInput"]["data"])) == \
        {"instances": ROWS[:1].tolist()}


def test_data_capture_sampling_and_input_only(api, sagemaker, runtime, s3):
    capture = {"EnableCapture": True, "InitialSamplingPercentage": 0, "DestinationS3Uri": s3_uri("capture-none"),
               "CaptureOptions": [{"CaptureMode": "Input"}]}
    deploy(api, sagemaker, s3, "unsampled", model_files(train_booster(6)), capture=capture)
    capture = {**capture, "InitialSamplingPercentage": 100, "DestinationS3Uri": s3_uri("capture-input")}
    deploy(api, sagemaker, s3, "inputs", model_files(train_booster(6)), capture=capture)
    for name in ("unsampled", "inputs"):
        invoke(runtime, name, csv_body(ROWS[:2]))
    api.flush_capture()
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="capture-none/")
    key, = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="capture-input/")["Contents"]]
    record = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    assert list(record["captureData"]) == ["endpointInput"]  # no CaptureContentTypeHeader: base64
    assert base64.b64decode(record["captureData"]["endpointInput"]["data"]) == csv_body(ROWS[:2])


def test_a_model_that_cannot_load_fails_the_endpoint(api, sagemaker, runtime, s3):
    assert deploy(api, sagemaker, s3, "broken", {"README": b"no model here"}) == "Failed"
    described = sagemaker.describe_endpoint(EndpointName="broken")
    assert described["EndpointStatus"] == "Failed"
    assert described["FailureReason"].startswith(
        "The primary container for production variant AllTraffic did not pass the ping health check: README is "
        "not an XGBoost model (the container loads xgboost-model")
    assert "ProductionVariants" not in described
    with pytest.raises(ClientError) as raised:
        invoke(runtime, "broken", csv_body(ROWS[:1]))
    assert error_of(raised)["Code"] == "ValidationError"

    create_model(sagemaker, "nowhere-model", s3_uri("endpoints/nowhere/model.tar.gz"))
    create_config(sagemaker, "nowhere-config", "nowhere-model")
    sagemaker.create_endpoint(EndpointName="nowhere", EndpointConfigName="nowhere-config")
    assert api.wait("nowhere") == "Failed"
    assert sagemaker.describe_endpoint(EndpointName="nowhere")["FailureReason"].startswith(
        "The primary container for production variant AllTraffic did not pass the ping health check: Failed to "
        f'download model data for container "container_1" from URL: "{s3_uri("endpoints/nowhere/model.tar.gz")}".')


def test_unknown_endpoint_and_config_errors(sagemaker, runtime, service):
    with pytest.raises(ClientError) as raised:
        invoke(runtime, "ghost", b"1,2,3,4")
    assert error_of(raised) == {"Code": "ValidationError", "Message": f"Endpoint ghost of account {ACCOUNT} not found."}
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as raised:
        sagemaker.create_endpoint(EndpointName="ghost", EndpointConfigName="no-such-config")
    assert error_of(raised)["Message"] == \
        f'Could not find endpoint configuration "arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint-config/no-such-config".'
    with pytest.raises(ServiceError) as direct:  # the Python API raises what the overlay serializes
        service.handle("InvokeEndpoint", ACCOUNT, REGION, {"EndpointName": "ghost", "Body": b""})
    assert direct.value.code == "ValidationError"


def test_the_overlay_routes_the_endpoint_actions_to_drydock():
    registered = OVERLAY.registered()
    assert set(endpoints_module.SAGEMAKER_ACTIONS) <= set(registered["sagemaker"] or endpoints_module.SAGEMAKER_ACTIONS)
    assert registered["sagemaker-runtime"] == ["InvokeEndpoint"]


def test_scikit_learn_default_serving(api, sagemaker, runtime, s3):
    import joblib
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(8)
    features = rng.normal(size=(100, FEATURES))
    estimator = LogisticRegression().fit(features, (features[:, 0] > 0).astype(int))
    saved = io.BytesIO()
    joblib.dump(estimator, saved)
    url = upload_model(s3, "endpoints/sk/model.tar.gz", {"model.joblib": saved.getvalue()})
    sagemaker.create_model(ModelName="sk-model", ExecutionRoleArn=ROLE,
                           PrimaryContainer={"Image": SKLEARN_IMAGE, "ModelDataUrl": url})
    create_config(sagemaker, "sk-config", "sk-model")
    sagemaker.create_endpoint(EndpointName="sk", EndpointConfigName="sk-config")
    assert api.wait("sk") == "InService"
    response = invoke(runtime, "sk", json.dumps(ROWS.tolist()).encode(), "application/json")
    assert response["ContentType"] == "application/json"
    assert json.loads(response["Body"]) == estimator.predict(ROWS).tolist()
    assert scores(invoke(runtime, "sk", csv_body(ROWS), Accept="text/csv")) == estimator.predict(ROWS).tolist()


@pytest.fixture
def served(serve_process):
    server, port, log = serve_process
    deadline = time.monotonic() + 30
    while not port_open(port):
        if server.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"drydock serve did not start:\n{log.read_text()}")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}"


def test_drydock_invoke_prints_churn_probabilities(served, capsys):
    cloud = LocalCloud(served)
    s3, sagemaker = cloud.client("s3"), cloud.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET)
    booster = train_booster(9)
    create_model(sagemaker, "cli-model", upload_model(s3, "endpoints/cli/model.tar.gz", model_files(booster)))
    create_config(sagemaker, "cli-config", "cli-model")
    sagemaker.create_endpoint(EndpointName="cli-churn", EndpointConfigName="cli-config")
    deadline = time.monotonic() + 20
    while sagemaker.describe_endpoint(EndpointName="cli-churn")["EndpointStatus"] == "Creating":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert sagemaker.describe_endpoint(EndpointName="cli-churn")["EndpointStatus"] == "InService"

    assert cli.main(["invoke", "cli-churn", "--body", csv_body(ROWS[:3]).decode(), "--endpoint-url", served]) == 0
    printed = [float(line) for line in capsys.readouterr().out.splitlines()]
    np.testing.assert_allclose(printed, predict(booster, ROWS[:3]), rtol=1e-6)
    assert cli.main(["invoke", "cli-churn", "--body", csv_body(ROWS[:2]).decode(), "--accept", "application/json",
                     "--endpoint-url", served]) == 0
    printed = [float(line) for line in capsys.readouterr().out.splitlines()]  # {"predictions": [{"score": p}]}
    np.testing.assert_allclose(printed, predict(booster, ROWS[:2]), rtol=1e-6)

    assert cli.main(["invoke", "no-such-endpoint", "--body", "1,2,3,4", "--endpoint-url", served]) == 2
    assert capsys.readouterr().err.startswith(
        f"drydock invoke: no endpoint named no-such-endpoint in {REGION} at {served} (Endpoint no-such-endpoint of "
        f"account {ACCOUNT} not found.)")
    assert cli.main(["invoke", "cli-churn", "--body", "1,2,3,4", "--content-type", "image/png",
                     "--endpoint-url", served]) == 1
    assert "drydock invoke: ModelError: Received client error (415)" in capsys.readouterr().err
