"""SageMaker Feature Store on one machine: feature groups, the online store and the offline store in S3 as Parquet.

Mirrors the SageMaker feature group actions (CreateFeatureGroup, DescribeFeatureGroup, UpdateFeatureGroup,
DeleteFeatureGroup, ListFeatureGroups) and the `sagemaker-featurestore-runtime` data plane (PutRecord, GetRecord,
DeleteRecord, BatchGetRecord): https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store.html

- online store: the latest record per record identifier by EventTime (an older PutRecord does not replace it),
  with soft and hard deletes and the TTL of OnlineStoreConfig.TtlDuration or of the PutRecord;
- offline store: every PutRecord (and every DeleteRecord's delete marker) is appended, with the extra columns
  `write_time`, `api_invocation_time` and `is_deleted`, to Parquet files in the Glue table layout
  `<S3Uri>/<account>/sagemaker/<region>/offline-store/<FeatureGroupName>-<creation epoch>/data/
  year=YYYY/month=MM/day=DD/hour=HH/<latest EventTime in file>_<16 characters>.parquet` (partitioned by EventTime).
  Rows are buffered and written every FLUSH_SECONDS by a background thread (AWS writes within minutes), and at
  once by `FeatureStore.flush()` / `flush()`.

drydock takes the feature group actions over from moto, whose groups have no online store, no OfflineStoreStatus
and a ResolvedOutputS3Uri without the `sagemaker/` level. Groups are kept per account and region. The actions are
registered with `harness.overlay`, so boto3 clients of the in-process cloud (and the SageMaker SDK's
`FeatureGroup.create` / `ingest`) and `drydock serve` reach the same store; `install(store)` picks that store.
"""
from __future__ import annotations

import atexit
import io
import math
import re
import secrets
import string
import sys
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Protocol

from harness.durability.cloud_state import ServicePart, durable, mark
from harness.overlay import ActiveSlot, Call, ServiceError, register
from harness.sagemaker.listing import Fields, select

CONTROL_ACTIONS = ("CreateFeatureGroup", "DescribeFeatureGroup", "UpdateFeatureGroup", "DeleteFeatureGroup",
                   "ListFeatureGroups")
RUNTIME_ACTIONS = ("PutRecord", "GetRecord", "DeleteRecord", "BatchGetRecord")
ONLINE, OFFLINE = "OnlineStore", "OfflineStore"
RESERVED_NAMES = ("write_time", "api_invocation_time", "is_deleted")  # the offline store's own columns
FLUSH_SECONDS = 1.0
BATCH_GET_LIMIT = 100  # identifiers per BatchGetRecord, all groups together
FEATURE_LIMIT = 2500  # features per feature group
# EventTime as String: yyyy-MM-dd'T'HH:mm:ssZ or yyyy-MM-dd'T'HH:mm:ss.SSSZ, 'T' and 'Z' literal.
EVENT_TIME_STRING = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{3})?Z")
INTEGRAL = re.compile(r"[-+]?\d+")
TTL_SECONDS = {"Seconds": 1, "Minutes": 60, "Hours": 3600, "Days": 86400, "Weeks": 604800}
_FILE_SUFFIX_ALPHABET = string.ascii_letters + string.digits


class ClientSource(Protocol):
    """Where boto3 clients for one account and region come from (`harness.cloud.LocalCloud` is one)."""

    def client(self, service: str) -> Any: ...


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class OnlineRecord:
    """The online store's entry for one record identifier; `values` None is a soft-deleted record."""

    event_time: float  # epoch seconds
    values: list[dict[str, Any]] | None
    expires_at: float | None = None


@dataclass(eq=False)
class FeatureGroup:
    """One feature group: its definition, as DescribeFeatureGroup tells it, and its online store."""

    name: str
    arn: str
    record_identifier: str
    event_time_feature: str
    definitions: list[dict[str, Any]]
    online: dict[str, Any] | None  # OnlineStoreConfig when EnableOnlineStore
    offline: dict[str, Any] | None  # OfflineStoreConfig, resolved
    role_arn: str | None
    description: str | None
    throughput: dict[str, Any]
    tags: list[dict[str, str]]
    created: datetime
    modified: datetime | None = None
    last_update: dict[str, Any] | None = None
    records: dict[str, OnlineRecord] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "Created"

    def definition(self, name: str) -> dict[str, Any] | None:
        return next((d for d in self.definitions if d["FeatureName"] == name), None)

    @property
    def offline_uri(self) -> str | None:
        return self.offline["S3StorageConfig"]["ResolvedOutputS3Uri"] if self.offline else None

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "FeatureGroupArn": self.arn, "FeatureGroupName": self.name,
            "RecordIdentifierFeatureName": self.record_identifier, "EventTimeFeatureName": self.event_time_feature,
            "FeatureDefinitions": self.definitions, "CreationTime": self.created,
            "ThroughputConfig": self.throughput, "FeatureGroupStatus": self.status,
            "NextToken": "",  # required in the output shape; every definition fits one answer (at most 2,500)
        }
        if self.modified is not None:
            out["LastModifiedTime"] = self.modified
        if self.online is not None:
            out["OnlineStoreConfig"] = self.online
            out["OnlineStoreTotalSizeBytes"] = sum(
                len(str(v.get("ValueAsString", v.get("ValueAsStringList", "")))) for r in self.records.values()
                for v in r.values or ())
        if self.offline is not None:
            out["OfflineStoreConfig"] = self.offline
            out["OfflineStoreStatus"] = {"Status": "Active"}
        if self.role_arn:
            out["RoleArn"] = self.role_arn
        if self.description:
            out["Description"] = self.description
        if self.last_update is not None:
            out["LastUpdateStatus"] = self.last_update
        return out

    def summary(self) -> dict[str, Any]:
        out = {"FeatureGroupName": self.name, "FeatureGroupArn": self.arn, "CreationTime": self.created,
               "FeatureGroupStatus": self.status}
        if self.offline is not None:
            out["OfflineStoreStatus"] = {"Status": "Active"}
        return out


@dataclass(frozen=True)
class _OfflineRow:
    group: FeatureGroup
    account: str
    region: str
    event_time: float
    values: dict[str, Any]  # feature name -> typed value (missing: null)
    invoked: datetime
    deleted: bool = False


class Region:
    """The feature groups of one account in one region."""

    def __init__(self, account: str, region: str):
        self.account, self.region = account, region
        self.groups: dict[str, FeatureGroup] = {}
        self.lock = threading.RLock()

    def arn(self, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:feature-group/{name.lower()}"


class FeatureStore:
    """The feature group and record actions for every account and region; one snake_case method per action.

    Args:
        clients: the S3 client source for an (account, region): the in-process local cloud by default.
        flush_seconds: how often buffered offline-store rows are written to S3.
    """

    def __init__(self, clients: Callable[[str, str], ClientSource] | None = None,
                 flush_seconds: float = FLUSH_SECONDS):
        self._clients = clients or _local_cloud
        self.flush_seconds = flush_seconds
        self._regions: dict[tuple[str, str], Region] = {}
        self._sources: dict[tuple[str, str], ClientSource] = {}
        self._lock = threading.Lock()
        self._buffer: list[_OfflineRow] = []
        self._buffer_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    def region(self, account: str, region: str) -> Region:
        with self._lock:
            found = self._regions.get((account, region))
            if found is None:
                found = self._regions[(account, region)] = Region(account, region)
            return found

    def dump(self) -> dict[str, Any]:
        """Feature groups with their online records, and offline rows not yet written (`drydock serve`'s journal)."""
        with self._lock:
            regions = dict(self._regions)
        with self._buffer_lock:
            buffered = list(self._buffer)
        groups = {}
        for key, r in regions.items():
            with r.lock:
                groups[key] = dict(r.groups)
        return {"groups": groups, "buffered": buffered}

    def load(self, state: dict[str, Any]) -> None:
        for (account, region), groups in state["groups"].items():
            self.region(account, region).groups = groups
        for row in state["buffered"]:
            self._append(row)

    def resume(self) -> None:
        """Nothing runs but the offline writer, which `load` started for the rows it brought back."""

    def handle(self, action: str, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        """Answer one action (the overlay serializes the dict)."""
        name = re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()
        with self._lock:  # made while the call's cloud is active: the flush thread may write after it stopped
            if (account, region) not in self._sources:
                self._sources[(account, region)] = self._clients(account, region)
        return getattr(self, name)(self.region(account, region), params)

    # ------------------------------------------------------------------ feature groups
    def create_feature_group(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        name = p["FeatureGroupName"]
        definitions = [dict(d) for d in p["FeatureDefinitions"]]
        _check_definitions(definitions, p["RecordIdentifierFeatureName"], p["EventTimeFeatureName"])
        online = dict(p["OnlineStoreConfig"]) if (p.get("OnlineStoreConfig") or {}).get("EnableOnlineStore") else None
        if online is not None:
            online.setdefault("StorageType", "Standard")
        if online is None and not p.get("OfflineStoreConfig"):
            raise ServiceError("ValidationException", "Either OnlineStoreConfig with EnableOnlineStore set to true "
                                                      "or OfflineStoreConfig must be specified.")
        if p.get("OfflineStoreConfig") and not p.get("RoleArn"):
            raise ServiceError("ValidationException", "RoleArn is required when OfflineStoreConfig is specified.")
        created = _now().replace(microsecond=0)
        offline = _resolve_offline(p.get("OfflineStoreConfig"), name, r, created)
        with r.lock:
            if name in r.groups:
                raise ServiceError("ResourceInUse", f"Resource Already Exists: FeatureGroup with name {name} already "
                                                    f"exists. Choose a different name.")
            r.groups[name] = FeatureGroup(
                name, r.arn(name), p["RecordIdentifierFeatureName"], p["EventTimeFeatureName"], definitions, online,
                offline, p.get("RoleArn"), p.get("Description"),
                dict(p.get("ThroughputConfig") or {"ThroughputMode": "OnDemand"}), list(p.get("Tags") or []),
                created)
        return {"FeatureGroupArn": r.arn(name)}

    def describe_feature_group(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        group = self._group(r, p["FeatureGroupName"], runtime=False)
        with r.lock:
            return group.describe()

    def update_feature_group(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        group = self._group(r, p["FeatureGroupName"], runtime=False)
        with r.lock:
            additions = [dict(d) for d in p.get("FeatureAdditions") or []]
            if additions:
                _check_definitions(group.definitions + additions, group.record_identifier, group.event_time_feature)
                group.definitions = group.definitions + additions
            if p.get("OnlineStoreConfig"):
                if group.online is None:
                    raise ServiceError("ValidationException", f"FeatureGroup {group.name} has no OnlineStore: its "
                                                              f"OnlineStoreConfig cannot be updated.")
                group.online = {**group.online, **p["OnlineStoreConfig"]}
            if p.get("ThroughputConfig"):
                group.throughput = {**group.throughput, **p["ThroughputConfig"]}
            group.modified = _now()
            group.last_update = {"Status": "Successful"}
        return {"FeatureGroupArn": group.arn}

    def delete_feature_group(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        group = self._group(r, p["FeatureGroupName"], runtime=False)
        self.flush()  # what was put before the delete reaches the offline store, which outlives the group
        with r.lock:
            r.groups.pop(group.name, None)
        return {}

    def list_feature_groups(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        with r.lock:
            found = list(r.groups.values())
        if p.get("OfflineStoreStatusEquals"):
            found = [g for g in found if g.offline is not None and p["OfflineStoreStatusEquals"] == "Active"]
        sort_by = {"FeatureGroupStatus": "Status", "OfflineStoreStatus": "Status"}.get(p.get("SortBy") or "",
                                                                                      p.get("SortBy"))
        page, token = select(found, {**p, "StatusEquals": p.get("FeatureGroupStatusEquals"), "SortBy": sort_by},
                             Fields(lambda g: g.name, lambda g: g.created, status=lambda g: g.status))
        return {"FeatureGroupSummaries": [g.summary() for g in page], **token}

    # ------------------------------------------------------------------ records
    def put_record(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        invoked = _now()
        group = self._group(r, p["FeatureGroupName"])
        with r.lock:
            stores = _target_stores(group, p.get("TargetStores"))
            values, typed = _check_record(group, p["Record"])
            identifier = _identifier_key(group, values[group.record_identifier])
            event_time = _event_time(group, values[group.event_time_feature])
            ttl = p.get("TtlDuration") or (group.online or {}).get("TtlDuration")
            if p.get("TtlDuration") and ONLINE not in stores:
                raise ServiceError("ValidationError", "TtlDuration applies to the OnlineStore only, which this "
                                                      "request does not target.")
            if ONLINE in stores:
                current = group.records.get(identifier)
                if current is None or event_time >= current.event_time:
                    expires = event_time + _ttl_seconds(ttl) if ttl else None
                    group.records[identifier] = OnlineRecord(event_time, list(p["Record"]), expires)
        if OFFLINE in stores:
            self._append(_OfflineRow(group, r.account, r.region, event_time, typed, invoked))
        return {}

    def get_record(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        group = self._group(r, p["FeatureGroupName"])
        with r.lock:
            if group.online is None:
                raise ServiceError("ValidationError", f"The FeatureGroup {group.name} has no OnlineStore: GetRecord "
                                                      f"reads the OnlineStore only (OnlineStoreConfig."
                                                      f"EnableOnlineStore is false).")
            return self._read(group, p["RecordIdentifierValueAsString"], p.get("FeatureNames"),
                              p.get("ExpirationTimeResponse") == "Enabled") or {}

    def delete_record(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        invoked = _now()
        group = self._group(r, p["FeatureGroupName"])
        with r.lock:
            stores = _target_stores(group, p.get("TargetStores"))
            identifier = _identifier_key(group, p["RecordIdentifierValueAsString"])
            event_time = _event_time(group, p["EventTime"])
            hard = p.get("DeletionMode") == "HardDelete"
            current = group.records.get(identifier) if ONLINE in stores else None
            if current is not None and event_time < current.event_time:
                # AWS keeps the newer record; a soft delete still writes its marker, a hard delete fails.
                if hard:
                    raise ServiceError("ValidationError", f"EventTime {p['EventTime']} of the delete is older than "
                                                          f"the EventTime of record {identifier} in the OnlineStore: "
                                                          f"the record was not deleted.")
            elif ONLINE in stores:
                if hard:
                    group.records.pop(identifier, None)
                else:
                    group.records[identifier] = OnlineRecord(event_time, None)
        if OFFLINE in stores:
            marker = {group.record_identifier: _typed(group.definition(group.record_identifier),
                                                      p["RecordIdentifierValueAsString"]),
                      group.event_time_feature: _typed(group.definition(group.event_time_feature), p["EventTime"])}
            self._append(_OfflineRow(group, r.account, r.region, event_time, marker, invoked, deleted=True))
        return {}

    def batch_get_record(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        identifiers = p["Identifiers"]
        if sum(len(i["RecordIdentifiersValueAsString"]) for i in identifiers) > BATCH_GET_LIMIT:
            raise ServiceError("ValidationError", f"BatchGetRecord accepts at most {BATCH_GET_LIMIT} record "
                                                  f"identifiers per request.")
        with_expiry = p.get("ExpirationTimeResponse") == "Enabled"
        records: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for wanted in identifiers:
            name = wanted["FeatureGroupName"]
            with r.lock:
                group = r.groups.get(_group_name(name))
                for value in wanted["RecordIdentifiersValueAsString"]:
                    if group is None or group.online is None:
                        code, message = (("ResourceNotFound", _not_found(name)) if group is None else
                                         ("ValidationError", f"The FeatureGroup {name} has no OnlineStore."))
                        errors.append({"FeatureGroupName": name, "RecordIdentifierValueAsString": value,
                                       "ErrorCode": code, "ErrorMessage": message})
                        continue
                    try:
                        found = self._read(group, value, wanted.get("FeatureNames"), with_expiry)
                    except ServiceError as error:
                        errors.append({"FeatureGroupName": name, "RecordIdentifierValueAsString": value,
                                       "ErrorCode": error.code, "ErrorMessage": error.message})
                        continue
                    if found:
                        records.append({"FeatureGroupName": name, "RecordIdentifierValueAsString": value, **found})
        return {"Records": records, "Errors": errors, "UnprocessedIdentifiers": []}

    def _read(self, group: FeatureGroup, value: str, names: list[str] | None,
              with_expiry: bool) -> dict[str, Any] | None:
        """The online record of `value` as GetRecord answers it, None when there is none (or it expired)."""
        if names:
            unknown = [n for n in names if group.definition(n) is None]
            if unknown:
                raise ServiceError("ValidationError", f"The feature names [{', '.join(unknown)}] are not in the "
                                                      f"definition of FeatureGroup {group.name}.")
        record = group.records.get(_identifier_key(group, value))
        if record is None or record.values is None:
            return None
        if record.expires_at is not None and record.expires_at <= _now().timestamp():
            return None
        values = [v for v in record.values if not names or v["FeatureName"] in names]
        if not values:
            return None
        out: dict[str, Any] = {"Record": values}
        if with_expiry and record.expires_at is not None:
            out["ExpiresAt"] = _iso(record.expires_at)
        return out

    def _group(self, r: Region, name: str, *, runtime: bool = True) -> FeatureGroup:
        with r.lock:
            group = r.groups.get(_group_name(name))
        if group is None:
            raise ServiceError("ResourceNotFound", _not_found(name), status=404 if runtime else None)
        return group

    # ------------------------------------------------------------------ the offline store
    def _append(self, row: _OfflineRow) -> None:
        mark(DURABLE_NAME)
        with self._buffer_lock:
            self._buffer.append(row)
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="drydock-featurestore-offline", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            self.flush()

    def flush(self) -> list[str]:
        """Write every buffered offline-store row to S3 now; returns the S3 URIs of the files written.

        A file that cannot be written (no bucket, the local cloud gone) is reported on stderr and dropped, as
        AWS gives up on an offline store it cannot reach.
        """
        with self._flush_lock:
            with self._buffer_lock:
                rows, self._buffer = self._buffer, []
            mark(DURABLE_NAME)
            if not rows:
                return []
            written_at = _now()
            files: dict[tuple[int, str], list[_OfflineRow]] = {}
            for row in rows:
                files.setdefault((id(row.group), _partition(row.event_time)), []).append(row)
            written: list[str] = []
            for (_, partition), batch in files.items():
                group = batch[0].group
                uri = f"{group.offline_uri}/{partition}/{_file_name(max(r.event_time for r in batch))}"
                try:
                    body = _parquet(group, batch, written_at)
                    bucket, _, key = uri[len("s3://"):].partition("/")
                    source = self._sources.get((batch[0].account, batch[0].region))
                    if source is None:
                        source = self._sources[(batch[0].account, batch[0].region)] = self._clients(
                            batch[0].account, batch[0].region)
                    source.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
                except Exception as error:  # noqa: BLE001 - the offline store is best effort, as on AWS
                    print(f"drydock: Feature Store could not write {len(batch)} offline-store record(s) of "
                          f"{group.name} to {uri}: {type(error).__name__}: {error}", file=sys.stderr)
                    continue
                written.append(uri)
            return written

    def close(self) -> None:
        """Stop the background writer and write what is buffered."""
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()


# --------------------------------------------------------------------------- checks and conversions
def _group_name(name_or_arn: str) -> str:
    """Requests name a group by name or ARN."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn.rsplit("/", 1)[-1]
    return name_or_arn


def _not_found(name: str) -> str:
    return f"Resource Not Found: Amazon SageMaker can't find a FeatureGroup with name {_group_name(name)}"


def _check_definitions(definitions: list[dict[str, Any]], identifier: str, event_time: str) -> None:
    problems = []
    names = [d["FeatureName"] for d in definitions]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        problems.append(f"FeatureDefinitions has duplicate feature names: {', '.join(duplicated)}.")
    reserved = [n for n in names if n.lower() in RESERVED_NAMES]
    if reserved:
        problems.append(f"FeatureName(s) {', '.join(reserved)} are reserved: {', '.join(RESERVED_NAMES)} are the "
                        f"OfflineStore's own columns.")
    if len(definitions) > FEATURE_LIMIT:
        problems.append(f"A FeatureGroup has at most {FEATURE_LIMIT} features; got {len(definitions)}.")
    by_name = {d["FeatureName"]: d for d in definitions}
    for role, name, allowed in (("RecordIdentifierFeatureName", identifier, ("String", "Integral")),
                                ("EventTimeFeatureName", event_time, ("String", "Fractional"))):
        definition = by_name.get(name)
        if definition is None:
            problems.append(f"{role} {name} is not in FeatureDefinitions.")
        elif definition.get("FeatureType") not in allowed or definition.get("CollectionType"):
            problems.append(f"{role} {name} must be a scalar feature of type {' or '.join(allowed)}, not "
                            f"{definition.get('CollectionType') or ''}{definition.get('FeatureType')}.")
    if problems:
        raise ServiceError("ValidationException", " ".join(problems))


def _resolve_offline(config: dict[str, Any] | None, name: str, r: Region,
                     created: datetime) -> dict[str, Any] | None:
    """OfflineStoreConfig as DescribeFeatureGroup shows it: ResolvedOutputS3Uri, the Glue table, the table format."""
    if not config:
        return None
    storage = dict(config["S3StorageConfig"])
    uri = storage["S3Uri"].rstrip("/")
    if not uri.startswith("s3://") or len(uri) <= len("s3://"):
        raise ServiceError("ValidationException", f"S3StorageConfig.S3Uri {storage['S3Uri']} is not an s3:// URI.")
    epoch = int(created.timestamp())
    storage["ResolvedOutputS3Uri"] = f"{uri}/{r.account}/sagemaker/{r.region}/offline-store/{name}-{epoch}/data"
    out: dict[str, Any] = {**config, "S3StorageConfig": storage,
                           "DisableGlueTableCreation": bool(config.get("DisableGlueTableCreation")),
                           "TableFormat": config.get("TableFormat") or "Glue"}
    if not out["DisableGlueTableCreation"]:
        out["DataCatalogConfig"] = config.get("DataCatalogConfig") or {
            "TableName": f"{name.replace('-', '_').lower()}_{epoch}", "Catalog": "AwsDataCatalog",
            "Database": "sagemaker_featurestore"}
    return out


def _target_stores(group: FeatureGroup, asked: list[str] | None) -> set[str]:
    have = {store for store, config in ((ONLINE, group.online), (OFFLINE, group.offline)) if config is not None}
    if not asked:
        return have
    missing = sorted(set(asked) - have)
    if missing:
        raise ServiceError("ValidationError", f"TargetStores {', '.join(missing)} not enabled for FeatureGroup "
                                              f"{group.name}.")
    return set(asked)


def _check_record(group: FeatureGroup, record: list[dict[str, Any]]) -> tuple[dict[str, str], dict[str, Any]]:
    """The record's values by feature name (as strings) and typed for the offline store, or ValidationError."""
    values: dict[str, Any] = {}
    typed: dict[str, Any] = {}
    for value in record:
        name = value["FeatureName"]
        definition = group.definition(name)
        if definition is None:
            raise ServiceError("ValidationError", f"The feature {name} is not in the definition of FeatureGroup "
                                                  f"{group.name}; add it with UpdateFeatureGroup FeatureAdditions "
                                                  f"first.")
        if name in values:
            raise ServiceError("ValidationError", f"The feature {name} appears more than once in the Record.")
        scalar, listed = value.get("ValueAsString"), value.get("ValueAsStringList")
        if definition.get("CollectionType"):
            if listed is None or scalar is not None:
                raise ServiceError("ValidationError", f"The feature {name} is a {definition['CollectionType']} "
                                                      f"feature: give its value as ValueAsStringList.")
            values[name] = listed
        else:
            if scalar is None or listed is not None:
                raise ServiceError("ValidationError", f"The feature {name} is a scalar feature: give its value as "
                                                      f"ValueAsString.")
            values[name] = scalar
        typed[name] = _typed(definition, values[name])
    for role, name in (("RecordIdentifierFeatureName", group.record_identifier),
                       ("EventTimeFeatureName", group.event_time_feature)):
        if name not in values:
            raise ServiceError("ValidationError", f"The Record is missing the {role} feature {name} of "
                                                  f"FeatureGroup {group.name}.")
    return values, typed


def _typed(definition: dict[str, Any] | None, value: Any) -> Any:
    if definition is None:
        return value
    kind, name = definition["FeatureType"], definition["FeatureName"]
    if isinstance(value, list):
        return [_typed({**definition, "CollectionType": None}, v) for v in value]
    if kind == "Integral":
        if not INTEGRAL.fullmatch(value) or not -2 ** 63 <= int(value) < 2 ** 63:
            raise ServiceError("ValidationError", f"The value {value!r} of feature {name} is not an Integral "
                                                  f"(a 64-bit integer).")
        return int(value)
    if kind == "Fractional":
        try:
            number = float(value)
        except ValueError:
            raise ServiceError("ValidationError", f"The value {value!r} of feature {name} is not a Fractional "
                                                  f"(a 64-bit floating point number).") from None
        if not math.isfinite(number):
            raise ServiceError("ValidationError", f"The value {value!r} of feature {name} is not a finite "
                                                  f"Fractional.")
        return number
    return value


def _identifier_key(group: FeatureGroup, value: str) -> str:
    definition = group.definition(group.record_identifier)
    if definition is not None and definition["FeatureType"] == "Integral":
        return str(_typed(definition, value))
    return value


def _event_time(group: FeatureGroup, value: str) -> float:
    """EventTime as epoch seconds: ISO-8601 yyyy-MM-dd'T'HH:mm:ss[.SSS]Z for String, epoch seconds for Fractional."""
    definition = group.definition(group.event_time_feature) or {"FeatureType": "String"}
    if definition["FeatureType"] == "Fractional":
        try:
            seconds = float(value)
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds) or seconds < 0:
            raise ServiceError("ValidationError", f"EventTime {value!r} of feature {group.event_time_feature} is "
                                                  f"not a Unix epoch time in seconds.")
        return seconds
    m = EVENT_TIME_STRING.fullmatch(value)
    try:
        if m is None:
            raise ValueError
        when = datetime(*(int(g) for g in m.groups()[:6]), tzinfo=timezone.utc)
    except ValueError:
        raise ServiceError("ValidationError", f"EventTime {value!r} of feature {group.event_time_feature} is not "
                                              f"in the ISO-8601 format yyyy-MM-dd'T'HH:mm:ssZ or "
                                              f"yyyy-MM-dd'T'HH:mm:ss.SSSZ.") from None
    return when.timestamp() + (float(m.group(7)) if m.group(7) else 0.0)


def _ttl_seconds(ttl: dict[str, Any]) -> float:
    return TTL_SECONDS[ttl["Unit"]] * float(ttl["Value"])


def _partition(event_time: float) -> str:
    when = datetime.fromtimestamp(event_time, timezone.utc)
    return f"year={when.year:04d}/month={when.month:02d}/day={when.day:02d}/hour={when.hour:02d}"


def _file_name(latest_event_time: float) -> str:
    stamp = datetime.fromtimestamp(latest_event_time, timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}_{''.join(secrets.choice(_FILE_SUFFIX_ALPHABET) for _ in range(16))}.parquet"


def _parquet(group: FeatureGroup, rows: list[_OfflineRow], written_at: datetime) -> bytes:
    """The rows as one Parquet file with the Glue table's columns: the features, then the three extra columns."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ModuleNotFoundError as error:
        raise RuntimeError("the offline store writes Parquet with pyarrow: install drydock[ml]") from error
    scalar = {"Integral": pa.int64(), "Fractional": pa.float64(), "String": pa.string()}
    timestamp = pa.timestamp("ms", tz="UTC")
    columns, types = [], []
    for definition in group.definitions:
        kind = scalar[definition["FeatureType"]]
        columns.append([row.values.get(definition["FeatureName"]) for row in rows])
        types.append(pa.field(definition["FeatureName"], pa.list_(kind) if definition.get("CollectionType") else kind))
    columns += [[written_at] * len(rows), [row.invoked for row in rows], [row.deleted for row in rows]]
    types += [pa.field("write_time", timestamp), pa.field("api_invocation_time", timestamp),
              pa.field("is_deleted", pa.bool_())]
    table = pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(columns, types)], schema=pa.schema(types))
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue()


def _local_cloud(account: str, region: str) -> ClientSource:
    from harness.cloud import LocalCloud

    return LocalCloud(region=region, account=account)


# --------------------------------------------------------------------------- the active store
def _new_store() -> FeatureStore:
    store = FeatureStore()
    atexit.register(store.flush)  # buffered offline records reach S3 before the process ends
    return store


_SLOT: ActiveSlot[FeatureStore] = ActiveSlot(_new_store)
install = _SLOT.install  # the store boto3 clients and drydock serve reach
active_store = _SLOT.get
DURABLE_NAME = "sagemaker-featurestore"


# SigV4 names the runtime "sagemaker" too, so its actions are listed under both names
_PART = durable(ServicePart(DURABLE_NAME, active_store), "sagemaker", CONTROL_ACTIONS + RUNTIME_ACTIONS)
durable(_PART, "sagemaker-featurestore-runtime", RUNTIME_ACTIONS)


def flush() -> list[str]:
    """Write the active store's buffered offline-store rows to S3 now; returns the files written."""
    return active_store().flush()


@register("sagemaker", CONTROL_ACTIONS)
def _answer_control(call: Call) -> dict[str, Any]:
    params = call.params
    _validate("sagemaker", call.action, params, "ValidationException")
    return active_store().handle(call.action, call.account, call.region, params)


@register("sagemaker-featurestore-runtime", RUNTIME_ACTIONS)
def _answer_runtime(call: Call) -> dict[str, Any]:
    params = {k: v for k, v in call.params.items() if v != []}  # the REST parser gives absent query lists as []
    if call.url_params.get("FeatureGroupName"):
        params["FeatureGroupName"] = call.url_params["FeatureGroupName"]
    _validate("sagemaker-featurestore-runtime", call.action, params, "ValidationError")
    return active_store().handle(call.action, call.account, call.region, params)


def _validate(service: str, action: str, params: dict[str, Any], code: str) -> None:
    """Required members, types, lengths and enums, as the service model says."""
    from botocore.validate import ParamValidator

    from harness.overlay import moto_service_model

    report = ParamValidator().validate(params, moto_service_model(service).operation_model(action).input_shape)
    if report.has_errors():
        raise ServiceError(code, report.generate_report())
