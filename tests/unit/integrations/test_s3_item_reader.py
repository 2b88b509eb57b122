"""The Distributed Map's ItemReader and ResultWriter over the local S3."""
from __future__ import annotations

import json

import pytest

from harness.integrations.s3_items import json_items
from integration_kit import details, events_of

ROWS = "Col1,Col2\nValue1,Value2\nValue3,Value4\nValue5,Value6\n"


def reader_map(reader_config: dict, *, parameters: dict | None = None, extra: dict | None = None,
               jsonata: bool = False) -> dict:
    reader = {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": reader_config}
    if jsonata:
        reader["Arguments"] = parameters or {"Bucket": "{% $states.input.Bucket %}", "Key": "{% $states.input.Key %}"}
    else:
        reader["Parameters"] = parameters or {"Bucket.$": "$.Bucket", "Key.$": "$.Key"}
    state = {"Type": "Map", "ItemReader": reader, "End": True,
             "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                               "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, **(extra or {})}
    definition = {"StartAt": "Map", "States": {"Map": state}}
    if jsonata:
        definition["QueryLanguage"] = "JSONata"
    return definition


@pytest.fixture
def bucket(cloud) -> str:
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="items-bucket")
    s3.put_object(Bucket="items-bucket", Key="rows.csv", Body=ROWS.encode())
    s3.put_object(Bucket="items-bucket", Key="list.json", Body=b'[{"a": 1}, {"a": 2}, {"a": 3}]')
    s3.put_object(Bucket="items-bucket", Key="nested.json", Body=b'{"data": {"items": [1, 2]}}')
    s3.put_object(Bucket="items-bucket", Key="lines.jsonl", Body=b'{"a": 1}\n{"a": 2}\n')
    return "items-bucket"


def test_csv_with_first_row_headers_and_max_items(runner, bucket) -> None:
    ex = runner.run(reader_map({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "MaxItems": 2}),
                    {"Bucket": bucket, "Key": "rows.csv"})
    assert ex.output == [{"Col1": "Value1", "Col2": "Value2"}, {"Col1": "Value3", "Col2": "Value4"}]
    types = [e["type"] for e in ex.history.events]
    assert types[2:6] == ["MapStateStarted", "MapRunStarted", "MapRunSucceeded", "MapStateSucceeded"]
    assert details(events_of(ex, "MapStateStarted")[0]) == {"length": 0}  # items are read inside the map run


def test_csv_given_headers_drop_extra_fields(runner, bucket) -> None:
    ex = runner.run(reader_map({"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["H"]}),
                    {"Bucket": bucket, "Key": "rows.csv"})
    assert ex.output[0] == {"H": "Col1"} and len(ex.output) == 4


@pytest.mark.parametrize("config, cause", [
    ({"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["H", "H"]}, "CSV headers cannot contain duplicates."),
    ({"InputType": "CSV", "MaxItemsPath": "$.Max"}, "field MaxItems must be positive"),
])
def test_reader_failures_are_map_run_failures(runner, bucket, config, cause) -> None:
    ex = runner.run(reader_map(config), {"Bucket": bucket, "Key": "rows.csv", "Max": -1})
    assert (ex.error, ex.cause) == ("States.ItemReaderFailed", cause)
    assert [e["type"] for e in ex.history.events][2:] == ["MapStateStarted", "MapRunStarted", "MapRunFailed",
                                                          "MapStateFailed", "ExecutionFailed"]


def test_json_jsonl_and_items_pointer(runner, bucket) -> None:
    whole = runner.run(reader_map({"InputType": "JSON"}), {"Bucket": bucket, "Key": "list.json"})
    assert whole.output == [{"a": 1}, {"a": 2}, {"a": 3}]
    # ItemsPointer (asl/validate.py does not accept it in definitions yet): the reader itself follows it
    assert json_items('{"data": {"items": [1, 2]}}', "/data/items") == [1, 2]
    lines = runner.run(reader_map({"InputType": "JSONL"}), {"Bucket": bucket, "Key": "lines.jsonl"})
    assert lines.output == [{"a": 1}, {"a": 2}]
    not_array = runner.run(reader_map({"InputType": "JSON"}), {"Bucket": bucket, "Key": "nested.json"})
    assert not_array.error == "States.ItemReaderFailed"


def test_jsonata_reader_and_missing_object(runner, bucket) -> None:
    ex = runner.run(reader_map({"InputType": "JSON", "MaxItems": "{% $m := 1 %}"}, jsonata=True),
                    {"Bucket": bucket, "Key": "list.json"})
    assert ex.output == [{"a": 1}]
    missing = runner.run(reader_map({"InputType": "JSON"}), {"Bucket": bucket, "Key": "nope.json"})
    assert missing.error == "States.ItemReaderFailed" and "The specified key does not exist." in missing.cause


def test_list_objects_v2_reader(runner, bucket) -> None:
    definition = reader_map({}, parameters={"Bucket.$": "$.Bucket"})
    definition["States"]["Map"]["ItemReader"]["Resource"] = "arn:aws:states:::s3:listObjectsV2"
    ex = runner.run(definition, {"Bucket": bucket})
    assert sorted(item["Key"] for item in ex.output) == ["lines.jsonl", "list.json", "nested.json", "rows.csv"]
    assert set(ex.output[0]) == {"Etag", "Key", "LastModified", "Size", "StorageClass"}


def test_batches_and_result_writer(runner, bucket, cloud) -> None:
    writer = {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": bucket, "Prefix": "out"}}
    definition = reader_map({"InputType": "JSON"}, extra={"ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"b": 1}},
                                                          "ResultWriter": writer, "Label": "L"})
    ex = runner.run(definition, {"Bucket": bucket, "Key": "list.json"})
    assert ex.status == "SUCCEEDED", ex.cause
    run_id = ex.output["MapRunArn"].rsplit(":", 1)[-1]
    assert ex.output["ResultWriterDetails"] == {"Bucket": bucket, "Key": f"out/{run_id}/manifest.json"}
    s3 = cloud.client("s3")
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=f"out/{run_id}/manifest.json")["Body"].read())
    key = manifest["ResultFiles"]["SUCCEEDED"][0]["Key"]
    results = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert [json.loads(r["Output"]) for r in results] == [
        {"BatchInput": {"b": 1}, "Items": [{"a": 1}, {"a": 2}]}, {"BatchInput": {"b": 1}, "Items": [{"a": 3}]}]
