"""The Distributed Map's ItemReader and ResultWriter over S3 (input-output-itemreader.html, input-output-resultwriter.html).

ItemReader resources:
- `arn:aws:states:::s3:getObject` with `ReaderConfig.InputType` `JSON` (an array, or the array at
  `ItemsPointer`), `JSONL` (one value per line), `CSV` (headers `FIRST_ROW` or `GIVEN` in `CSVHeaders`,
  `CSVDelimiter`) or `MANIFEST` (an S3 inventory manifest's CSV files);
- `arn:aws:states:::s3:listObjectsV2`: one item per object (`Etag`, `Key`, `LastModified`, `Size`, `StorageClass`).
`MaxItems` / `MaxItemsPath` limit the items (0 means no limit, a negative value fails).

ResultWriter (`arn:aws:states:::s3:putObject`, `Bucket` + `Prefix`) writes the map run's results as
AWS does - `<Prefix>/<map run id>/manifest.json`, `SUCCEEDED_0.json`, `FAILED_0.json`, `PENDING_0.json` -
and the Map state's result becomes `{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}`.

Failures are `States.ItemReaderFailed` / `States.ResultWriterFailed` with the causes AWS gives
(cases `scenarios_test_base_scenarios*item_reader*`, `*result_writer*`).
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any

from asl import errors as E
from asl.errors import StatesError
from asl.payload import Scope, compile_jsonata_template, compile_jsonpath_template
from asl.paths import PathNotFound, compile_query
from harness.integrations import errors
from harness.integrations.responses import compact, iso_timestamp

JSONATA = "JSONata"
_DELIMITERS = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}


class S3ItemStore:
    """The `map_readers` hook of the engine: reads a Distributed Map's items and writes its results."""

    def __init__(self, cloud: Any):
        self.cloud = cloud
        self._compiled: dict[int, tuple[Any, Any]] = {}

    # ------------------------------------------------------------------ ItemReader
    def read(self, config: dict[str, Any], effective: Any, ctx: Any, variables: dict[str, Any], *,
             scope: Scope | None = None, language: str = "JSONPath") -> list[Any]:
        reader = config.get("ReaderConfig") or {}
        args = self._arguments(config, effective, ctx, variables, scope, language)
        max_items = self._max_items(reader, effective, ctx, variables, scope, language)
        resource = config.get("Resource", "")
        action = resource.rsplit(":", 1)[-1]
        if action == "listObjectsV2":
            items = self._list_objects(args)
        elif action == "getObject":
            items = self._object_items(args, reader)
        else:
            raise StatesError(E.ITEM_READER_FAILED, f"The resource '{resource}' cannot be used as an ItemReader")
        return items[:max_items] if max_items else items

    def _arguments(self, config: dict[str, Any], effective: Any, ctx: Any, variables: dict[str, Any],
                   scope: Scope | None, language: str) -> dict[str, Any]:
        key = id(config)
        if key not in self._compiled:
            if language == JSONATA:
                template = compile_jsonata_template(config.get("Arguments", {}), "Arguments")
            else:
                template = compile_jsonpath_template(config.get("Parameters", {}))
            self._compiled[key] = (config, template)  # keep config alive so its id stays unique
        template = self._compiled[key][1]
        value = template(scope if language == JSONATA and scope is not None else Scope(effective, ctx, variables))
        return value if isinstance(value, dict) else {}

    @staticmethod
    def _max_items(reader: dict[str, Any], effective: Any, ctx: Any, variables: dict[str, Any],
                   scope: Scope | None, language: str) -> int:
        if "MaxItemsPath" in reader:
            try:
                value = compile_query(reader["MaxItemsPath"]).get(effective, ctx, variables)
            except PathNotFound:
                raise StatesError(E.ITEM_READER_FAILED, f"Invalid path '{reader['MaxItemsPath']}' : No results for path")
        else:
            value = reader.get("MaxItems", 0)
            if language == JSONATA and isinstance(value, str) and scope is not None:
                value = compile_jsonata_template(value, "MaxItems")(scope)
        if isinstance(value, str):
            try:
                value = int(value)
            except ValueError:
                raise StatesError(E.ITEM_READER_FAILED, f"field MaxItems must be an integer: {value}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise StatesError(E.ITEM_READER_FAILED, "field MaxItems must be an integer")
        if value < 0:
            raise StatesError(E.ITEM_READER_FAILED, "field MaxItems must be positive")
        return int(value)

    def _get(self, bucket: Any, key: Any) -> str:
        from botocore.exceptions import ClientError

        s3 = self.cloud.client("s3")
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as err:
            failure = errors.v2_client_error(s3, "GetObject", err)
            raise StatesError(E.ITEM_READER_FAILED, failure.cause) from None
        return body.decode("utf-8", errors="replace")

    def _list_objects(self, args: dict[str, Any]) -> list[Any]:
        from botocore.exceptions import ClientError

        s3 = self.cloud.client("s3")
        items: list[Any] = []
        kwargs = {k: v for k, v in args.items() if k in ("Bucket", "Prefix", "Delimiter", "StartAfter")}
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(**kwargs):
                for obj in page.get("Contents", []):
                    items.append({"Etag": obj.get("ETag"), "Key": obj["Key"],
                                  "LastModified": iso_timestamp(obj["LastModified"]), "Size": obj.get("Size", 0),
                                  "StorageClass": obj.get("StorageClass", "STANDARD")})
        except ClientError as err:
            raise StatesError(E.ITEM_READER_FAILED, errors.v2_client_error(s3, "ListObjectsV2", err).cause) from None
        return items

    def _object_items(self, args: dict[str, Any], reader: dict[str, Any]) -> list[Any]:
        text = self._get(args.get("Bucket"), args.get("Key"))
        kind = reader.get("InputType", "JSON")
        if kind == "JSON":
            return json_items(text, reader.get("ItemsPointer"))
        if kind == "JSONL":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        if kind == "CSV":
            return csv_items(text, reader)
        if kind == "MANIFEST":
            return self._manifest_items(text, args)
        raise StatesError(E.ITEM_READER_FAILED, f"Unsupported InputType: {kind}")

    def _manifest_items(self, text: str, args: dict[str, Any]) -> list[Any]:
        manifest = json.loads(text)
        bucket = manifest.get("destinationBucket", "").rsplit(":", 1)[-1] or args.get("Bucket")
        items: list[Any] = []
        for entry in manifest.get("files", []):
            for row in csv.reader(io.StringIO(self._get(bucket, entry["key"]))):
                if len(row) >= 2:
                    items.append({"Bucket": row[0], "Key": row[1]})
        return items

    # ------------------------------------------------------------------ ResultWriter
    def write(self, config: dict[str, Any], results: list[Any], *, map_run_arn: str, failures: list[Any] = (),
              effective: Any = None, ctx: Any = None, variables: dict[str, Any] | None = None,
              scope: Scope | None = None, language: str = "JSONPath") -> dict[str, Any]:
        from botocore.exceptions import ClientError

        args = self._arguments(config, effective, ctx, variables or {}, scope, language)
        bucket, prefix = args.get("Bucket"), (args.get("Prefix") or "").rstrip("/")
        run_id = map_run_arn.rsplit(":", 1)[-1]
        base = f"{prefix}/{run_id}" if prefix else run_id
        s3 = self.cloud.client("s3")
        files = {"SUCCEEDED": [{"Output": compact(r), "Status": "SUCCEEDED"} for r in results],
                 "FAILED": list(failures), "PENDING": []}
        result_files: dict[str, list[dict[str, Any]]] = {}
        try:
            for status, body in files.items():
                result_files[status] = []
                if body:
                    key, text = f"{base}/{status}_0.json", compact(body)
                    s3.put_object(Bucket=bucket, Key=key, Body=text.encode())
                    result_files[status].append({"Key": key, "Size": len(text.encode())})
            manifest = {"DestinationBucket": bucket, "MapRunArn": map_run_arn, "ResultFiles": result_files}
            s3.put_object(Bucket=bucket, Key=f"{base}/manifest.json", Body=compact(manifest).encode())
        except ClientError as err:
            raise StatesError(E.RESULT_WRITER_FAILED, errors.v2_client_error(s3, "PutObject", err).cause) from None
        return {"MapRunArn": map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": f"{base}/manifest.json"}}


def json_items(text: str, pointer: str | None = None) -> list[Any]:
    try:
        value = json.loads(text)
    except ValueError as err:
        raise StatesError(E.ITEM_READER_FAILED, f"The content of the object is not valid JSON: {err}") from None
    if pointer:
        for part in pointer.lstrip("/").split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(value, dict) and part in value:
                value = value[part]
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                raise StatesError(E.ITEM_READER_FAILED, f"The ItemsPointer '{pointer}' does not point at a value")
    if not isinstance(value, list):
        raise StatesError(E.ITEM_READER_FAILED, "Attempting to map over non-iterable node.")
    return value


def csv_items(text: str, reader: dict[str, Any]) -> list[dict[str, str]]:
    """CSV rows as objects keyed by the headers; extra fields are dropped, missing ones are empty."""
    delimiter = _DELIMITERS.get(reader.get("CSVDelimiter", "COMMA"), ",")
    rows = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if row]
    if reader.get("CSVHeaderLocation", "FIRST_ROW") == "GIVEN":
        headers = list(reader.get("CSVHeaders") or [])
    else:
        if not rows:
            return []
        headers, rows = rows[0], rows[1:]
    if len(set(headers)) != len(headers):
        raise StatesError(E.ITEM_READER_FAILED, "CSV headers cannot contain duplicates.")
    return [{h: (row[i] if i < len(row) else "") for i, h in enumerate(headers)} for row in rows]
