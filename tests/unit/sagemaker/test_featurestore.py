"""SageMaker Feature Store locally: feature groups, PutRecord/GetRecord/DeleteRecord/BatchGetRecord through boto3
and the SageMaker SDK in-process, the offline store's Parquet files in S3, and preprocess.py's ingestion as a
processing job that reaches `drydock serve`."""
from __future__ import annotations

import importlib.util
import io
import re
import socket
import threading

import boto3
import pandas as pd
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from fixtures.churn import generate
from harness.cloud import DUMMY_CREDENTIALS
from harness.sagemaker import featurestore
from harness.sagemaker.backends.process import ENDPOINT_VARIABLE, ProcessBackend
from harness.sagemaker.runtime import run_processing_job
from job_requests import PIPELINE_SCRIPTS, processing_request, s3_input
from pipeline_kit import local_cloud, sdk_environment
from service_kit import shape_problems

BUCKET = "drydock-featurestore-tests"
ROLE = "arn:aws:iam::123456789012:role/SageMakerFeatureStoreRole"
ROWS = 200
EXTRA_COLUMNS = ["write_time", "api_invocation_time", "is_deleted"]
OFFLINE_KEY = re.compile(r"store/123456789012/sagemaker/us-east-1/offline-store/(?P<group>[\w-]+)-(?P<epoch>\d+)/data/"
                         r"year=(?P<y>\d{4})/month=(?P<m>\d{2})/day=(?P<d>\d{2})/hour=(?P<h>\d{2})/"
                         r"(?P<stamp>\d{8}T\d{6}Z)_[A-Za-z0-9]{16}\.parquet")


def load_preprocess():
    spec = importlib.util.spec_from_file_location("churn_preprocess", PIPELINE_SCRIPTS / "preprocess.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


preprocess = load_preprocess()


@pytest.fixture(scope="module")
def cloud():
    cloud = local_cloud()  # with drydock's overlay answering (another module may have turned it off)
    cloud.client("s3").create_bucket(Bucket=BUCKET)
    return cloud


@pytest.fixture(scope="module")
def sm(cloud):
    return cloud.client("sagemaker")


@pytest.fixture(scope="module")
def fs(cloud):
    return cloud.client("sagemaker-featurestore-runtime")


@pytest.fixture(scope="module")
def churn():
    """200 customers' raw rows, the fitted transformer's features (as preprocess.py makes them), the snapshot."""
    raw = generate(ROWS, seed=11)
    raw["signup_date"] = pd.to_datetime(raw["signup_date"])
    raw["last_login_date"] = pd.to_datetime(raw["last_login_date"])
    snapshot = raw["last_login_date"].max()
    transformer = preprocess.build_transformer(snapshot).fit(raw.drop(columns=[preprocess.LABEL]))
    return raw, preprocess.engineered_features(transformer, raw), snapshot


def create_group(sm, name, *, online=True, offline=True, ttl=None):
    extra = {}
    if online:
        extra["OnlineStoreConfig"] = {"EnableOnlineStore": True, **({"TtlDuration": ttl} if ttl else {})}
    if offline:
        extra["OfflineStoreConfig"] = {"S3StorageConfig": {"S3Uri": f"s3://{BUCKET}/store"}}
        extra["RoleArn"] = ROLE
    return sm.create_feature_group(FeatureGroupName=name, RecordIdentifierFeatureName="customer_id",
                                   EventTimeFeatureName="event_time",
                                   FeatureDefinitions=preprocess.feature_group_definitions(), **extra)


def record(customer, event_time, **features):
    return ([{"FeatureName": "customer_id", "ValueAsString": customer},
             {"FeatureName": "event_time", "ValueAsString": event_time}]
            + [{"FeatureName": k, "ValueAsString": str(v)} for k, v in features.items()])


def values(answer):
    return {v["FeatureName"]: v["ValueAsString"] for v in answer.get("Record", [])}


def offline_tables(cloud, group):
    """{key: DataFrame} of the group's offline-store files, after writing what is buffered."""
    featurestore.flush()
    s3 = cloud.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="store/").get("Contents", [])
            if f"/offline-store/{group}-" in o["Key"]]
    return {key: pq.read_table(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())).to_pandas()
            for key in keys}


def error_of(call):
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def test_group_describes_online_and_offline_stores(sm) -> None:
    arn = create_group(sm, "fs-describe")["FeatureGroupArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:feature-group/fs-describe"
    described = sm.describe_feature_group(FeatureGroupName="fs-describe")
    assert shape_problems(sm, "DescribeFeatureGroup", described) == ""
    assert (described["FeatureGroupStatus"], described["OfflineStoreStatus"]) == ("Created", {"Status": "Active"})
    assert described["OnlineStoreConfig"]["EnableOnlineStore"] is True
    epoch = int(described["CreationTime"].timestamp())
    storage = described["OfflineStoreConfig"]["S3StorageConfig"]
    assert storage["ResolvedOutputS3Uri"] == (f"s3://{BUCKET}/store/123456789012/sagemaker/us-east-1/offline-store/"
                                              f"fs-describe-{epoch}/data")
    assert described["OfflineStoreConfig"]["DataCatalogConfig"] == {
        "TableName": f"fs_describe_{epoch}", "Catalog": "AwsDataCatalog", "Database": "sagemaker_featurestore"}
    listed = sm.list_feature_groups(NameContains="fs-describe")["FeatureGroupSummaries"]
    assert [g["FeatureGroupArn"] for g in listed] == [arn]
    assert error_of(lambda: create_group(sm, "fs-describe"))[0] == "ResourceInUse"


def test_ingested_churn_features_are_online_latest_first_and_offline_as_parquet(cloud, sm, fs, churn) -> None:
    raw, features, snapshot = churn
    create_group(sm, "fs-churn")
    session = boto3.session.Session(region_name="us-east-1", **DUMMY_CREDENTIALS)
    assert preprocess.ingest_features("fs-churn", raw["customer_id"], features, snapshot, session=session) == ROWS

    first = raw["customer_id"][0]
    stored = values(fs.get_record(FeatureGroupName="fs-churn", RecordIdentifierValueAsString=first))
    assert stored["event_time"] == snapshot.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert float(stored["days_since_last_login"]) == pytest.approx(features["days_since_last_login"][0])
    assert set(stored) == {"customer_id", "event_time", *preprocess.FEATURE_NAMES}

    # The online store keeps the latest record by EventTime: a newer one replaces it, an older one does not.
    fs.put_record(FeatureGroupName="fs-churn", Record=record(first, "2999-01-01T00:00:00.000Z", tenure_months=99))
    fs.put_record(FeatureGroupName="fs-churn", Record=record(first, "2000-01-01T00:00:00Z", tenure_months=1))
    latest = fs.get_record(FeatureGroupName="fs-churn", RecordIdentifierValueAsString=first,
                           FeatureNames=["tenure_months", "event_time"])
    assert shape_problems(fs, "GetRecord", latest) == ""
    assert values(latest) == {"event_time": "2999-01-01T00:00:00.000Z", "tenure_months": "99"}
    assert "Record" not in fs.get_record(FeatureGroupName="fs-churn", RecordIdentifierValueAsString="C-nobody")

    batch = fs.batch_get_record(Identifiers=[
        {"FeatureGroupName": "fs-churn", "RecordIdentifiersValueAsString": [first, raw["customer_id"][1]],
         "FeatureNames": ["tenure_months"]},
        {"FeatureGroupName": "fs-missing", "RecordIdentifiersValueAsString": ["x"]}])
    assert shape_problems(fs, "BatchGetRecord", batch) == ""
    assert [r["RecordIdentifierValueAsString"] for r in batch["Records"]] == [first, raw["customer_id"][1]]
    assert values(batch["Records"][0]) == {"tenure_months": "99"}
    assert [(e["FeatureGroupName"], e["ErrorCode"]) for e in batch["Errors"]] == [("fs-missing", "ResourceNotFound")]

    tables = offline_tables(cloud, "fs-churn")
    partitions = {OFFLINE_KEY.fullmatch(key).group("y", "m", "d", "h"): table for key, table in tables.items()}
    assert all(OFFLINE_KEY.fullmatch(key) for key in tables), sorted(tables)
    assert set(partitions) == {(f"{snapshot:%Y}", f"{snapshot:%m}", f"{snapshot:%d}", f"{snapshot:%H}"),
                               ("2999", "01", "01", "00"), ("2000", "01", "01", "00")}
    every = pd.concat(tables.values(), ignore_index=True)
    assert list(every.columns) == [d["FeatureName"] for d in preprocess.feature_group_definitions()] + EXTRA_COLUMNS
    assert len(every) == ROWS + 2  # every PutRecord, the older one too
    assert not every["is_deleted"].any()
    assert (every["write_time"] >= every["api_invocation_time"]).all()
    assert str(every["api_invocation_time"].dtype).startswith("datetime64[ms, UTC]")
    assert every["tenure_months"].dtype == "float64"


def test_deletes_soft_and_hard(cloud, sm, fs) -> None:
    create_group(sm, "fs-delete")
    for customer in ("C1", "C2"):
        fs.put_record(FeatureGroupName="fs-delete", Record=record(customer, "2024-05-01T10:00:00Z", tenure_months=3))
    fs.delete_record(FeatureGroupName="fs-delete", RecordIdentifierValueAsString="C1",
                     EventTime="2024-05-01T11:00:00Z")
    assert "Record" not in fs.get_record(FeatureGroupName="fs-delete", RecordIdentifierValueAsString="C1")
    # A soft-deleted record stays deleted for puts older than the delete
    fs.put_record(FeatureGroupName="fs-delete", Record=record("C1", "2024-05-01T10:30:00Z", tenure_months=4))
    assert "Record" not in fs.get_record(FeatureGroupName="fs-delete", RecordIdentifierValueAsString="C1")

    code, message = error_of(lambda: fs.delete_record(
        FeatureGroupName="fs-delete", RecordIdentifierValueAsString="C2", EventTime="2024-05-01T09:00:00Z",
        DeletionMode="HardDelete"))
    assert code == "ValidationError" and "older" in message
    fs.delete_record(FeatureGroupName="fs-delete", RecordIdentifierValueAsString="C2",
                     EventTime="2024-05-01T12:00:00Z", DeletionMode="HardDelete")
    fs.put_record(FeatureGroupName="fs-delete", Record=record("C2", "2024-05-01T08:00:00Z", tenure_months=5))
    assert values(fs.get_record(FeatureGroupName="fs-delete", RecordIdentifierValueAsString="C2"))[
        "tenure_months"] == "5"  # a hard delete leaves nothing behind

    every = pd.concat(offline_tables(cloud, "fs-delete").values(), ignore_index=True)
    markers = every[every["is_deleted"]]
    assert sorted(markers["customer_id"]) == ["C1", "C2"]
    assert markers["tenure_months"].isna().all()


def test_ttl_and_expiration_time_response(sm, fs) -> None:
    create_group(sm, "fs-ttl", offline=False, ttl={"Unit": "Days", "Value": 36500})
    fs.put_record(FeatureGroupName="fs-ttl", Record=record("C1", "2024-01-01T00:00:00Z"))
    answer = fs.get_record(FeatureGroupName="fs-ttl", RecordIdentifierValueAsString="C1",
                           ExpirationTimeResponse="Enabled")
    assert answer["ExpiresAt"].startswith("2123-12-08T00:00:00")
    fs.put_record(FeatureGroupName="fs-ttl", Record=record("C2", "2024-01-01T00:00:00Z"),
                  TtlDuration={"Unit": "Seconds", "Value": 1})
    assert "Record" not in fs.get_record(FeatureGroupName="fs-ttl", RecordIdentifierValueAsString="C2")


def test_errors_as_aws_gives_them(sm, fs) -> None:
    create_group(sm, "fs-errors")
    create_group(sm, "fs-offline-only", online=False)

    assert error_of(lambda: sm.describe_feature_group(FeatureGroupName="fs-nope")) == (
        "ResourceNotFound", "Resource Not Found: Amazon SageMaker can't find a FeatureGroup with name fs-nope")
    with pytest.raises(fs.exceptions.ResourceNotFound):
        fs.put_record(FeatureGroupName="fs-nope", Record=record("C1", "2024-01-01T00:00:00Z"))
    with pytest.raises(fs.exceptions.ResourceNotFound):
        fs.get_record(FeatureGroupName="fs-nope", RecordIdentifierValueAsString="C1")

    code, message = error_of(lambda: fs.put_record(FeatureGroupName="fs-errors", Record=record(
        "C1", "2024-01-01T00:00:00Z")[1:]))
    assert code == "ValidationError" and "RecordIdentifierFeatureName feature customer_id" in message
    code, message = error_of(lambda: fs.put_record(FeatureGroupName="fs-errors", Record=record(
        "C1", "2024-01-01T00:00:00Z")[:1]))
    assert code == "ValidationError" and "EventTimeFeatureName feature event_time" in message
    code, message = error_of(lambda: fs.put_record(FeatureGroupName="fs-errors", Record=record(
        "C1", "2024-01-01T00:00:00Z", favourite_colour="blue")))
    assert code == "ValidationError" and "favourite_colour is not in the definition" in message
    code, message = error_of(lambda: fs.put_record(FeatureGroupName="fs-errors", Record=record(
        "C1", "2024-01-01 00:00:00")))
    assert code == "ValidationError" and "ISO-8601" in message
    code, _ = error_of(lambda: fs.put_record(FeatureGroupName="fs-errors", Record=record(
        "C1", "2024-01-01T00:00:00Z", tenure_months="many")))
    assert code == "ValidationError"
    code, message = error_of(lambda: fs.get_record(FeatureGroupName="fs-errors", RecordIdentifierValueAsString="C1",
                                                   FeatureNames=["favourite_colour"]))
    assert code == "ValidationError" and "favourite_colour" in message

    fs.put_record(FeatureGroupName="fs-offline-only", Record=record("C1", "2024-01-01T00:00:00Z"))
    code, message = error_of(lambda: fs.get_record(FeatureGroupName="fs-offline-only",
                                                   RecordIdentifierValueAsString="C1"))
    assert code == "ValidationError" and "no OnlineStore" in message
    code, _ = error_of(lambda: fs.put_record(FeatureGroupName="fs-offline-only", TargetStores=["OnlineStore"],
                                             Record=record("C1", "2024-01-01T00:00:00Z")))
    assert code == "ValidationError"

    definitions = preprocess.feature_group_definitions()
    code, message = error_of(lambda: sm.create_feature_group(
        FeatureGroupName="fs-bad", RecordIdentifierFeatureName="nobody", EventTimeFeatureName="event_time",
        FeatureDefinitions=definitions + [{"FeatureName": "is_deleted", "FeatureType": "String"}],
        OnlineStoreConfig={"EnableOnlineStore": True}))
    assert code == "ValidationException" and "nobody is not in FeatureDefinitions" in message
    assert "is_deleted" in message


def test_sagemaker_sdk_creates_and_ingests(tmp_path, cloud, fs, churn) -> None:
    raw, features, snapshot = churn
    frame = pd.concat([raw[["customer_id"]], features], axis=1).head(50)
    frame["customer_id"] = frame["customer_id"].astype("string")  # the SDK infers String from "string"/"object"
    frame["event_time"] = snapshot.timestamp()  # Fractional event time, as the SDK's examples do
    with sdk_environment(tmp_path):
        import sagemaker
        from sagemaker.feature_store.feature_group import FeatureGroup

        boto_session = boto3.session.Session(region_name=cloud.region, **DUMMY_CREDENTIALS)
        session = sagemaker.Session(boto_session=boto_session, sagemaker_client=cloud.client("sagemaker"),
                                    sagemaker_featurestore_runtime_client=fs, default_bucket=BUCKET)
        group = FeatureGroup(name="fs-sdk", sagemaker_session=session)
        definitions = group.load_feature_definitions(data_frame=frame)
        assert {d.feature_name: d.feature_type.value for d in definitions}["event_time"] == "Fractional"
        group.create(s3_uri=f"s3://{BUCKET}/store", record_identifier_name="customer_id",
                     event_time_feature_name="event_time", role_arn=ROLE, enable_online_store=True)
        assert group.describe()["OfflineStoreStatus"]["Status"] == "Active"
        group.ingest(data_frame=frame, max_workers=1, wait=True)
        got = {r["FeatureName"]: r["ValueAsString"] for r in group.get_record(
            record_identifier_value_as_string=frame["customer_id"][3])}
    assert float(got["charges_per_login"]) == pytest.approx(frame["charges_per_login"][3])
    assert sum(len(t) for t in offline_tables(cloud, "fs-sdk").values()) == 50


@pytest.fixture
def served(cloud):
    """`drydock serve`'s gateway on a free loopback port, in a thread of this process."""
    from harness.server import bind
    from harness.stepfunctions_api import StepFunctionsApi, install

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    api = StepFunctionsApi()
    previous = install(api)
    server = bind("127.0.0.1", port, api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()
    install(previous)
    api.close()


def preprocess_job(cloud, tmp_path, name, group):
    s3 = cloud.client("s3")
    s3.put_object(Bucket=BUCKET, Key=f"{name}/raw/churn.csv", Body=generate(ROWS, seed=5).to_csv(index=False).encode())
    s3.put_object(Bucket=BUCKET, Key=f"{name}/code/preprocess.py",
                  Body=(PIPELINE_SCRIPTS / "preprocess.py").read_bytes())
    request = processing_request(name, f"s3://{BUCKET}/{name}/code/preprocess.py",
                                 inputs=[s3_input("raw", f"s3://{BUCKET}/{name}/raw", "/opt/ml/processing/input")],
                                 environment={"FEATURE_GROUP_NAME": group})
    return run_processing_job(request, s3, ProcessBackend(), tmp_path)


def test_preprocess_job_ingests_through_drydock_serve(cloud, sm, fs, served, tmp_path, monkeypatch) -> None:
    create_group(sm, "fs-pipeline")
    monkeypatch.setenv(ENDPOINT_VARIABLE, served)
    result = preprocess_job(cloud, tmp_path, "fs-preprocess", "fs-pipeline")
    assert result.status == "Completed", result.log_lines
    assert f"Feature Store: put {ROWS} records into fs-pipeline" in "\n".join(result.log_lines)
    assert values(fs.get_record(FeatureGroupName="fs-pipeline", RecordIdentifierValueAsString="C00000007"))
    assert sum(len(t) for t in offline_tables(cloud, "fs-pipeline").values()) == ROWS


def test_preprocess_job_without_an_endpoint_skips_ingestion(cloud, sm, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(ENDPOINT_VARIABLE, raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    result = preprocess_job(cloud, tmp_path, "fs-preprocess-alone", "fs-pipeline-alone")
    assert result.status == "Completed", result.log_lines
    assert "Feature Store ingestion needs an endpoint" in "\n".join(result.log_lines)
