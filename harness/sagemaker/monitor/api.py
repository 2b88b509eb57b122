"""The SageMaker monitoring-schedule actions over drydock's Model Monitor, in the API's shapes.

CreateMonitoringSchedule, DescribeMonitoringSchedule, ListMonitoringSchedules, UpdateMonitoringSchedule,
DeleteMonitoringSchedule, StartMonitoringSchedule, StopMonitoringSchedule and ListMonitoringExecutions
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateMonitoringSchedule.html), registered with
`harness.overlay` so in-process boto3 clients and `drydock serve` reach them.

What drydock runs: DataQuality schedules with an inline `MonitoringJobDefinition` (a BaselineConfig with
ConstraintsResource and StatisticsResource, one EndpointInput, one S3Output). Each execution is
`harness.sagemaker.monitor.run.run_monitoring` over the endpoint's data capture (its DestinationS3Uri, from
DescribeEndpoint); its status goes Pending -> InProgress -> Completed | CompletedWithViolations | Failed.
There is no wall-clock scheduler: a `ScheduleExpression` of "NOW" (a one-time schedule, with
DataAnalysisStartTime/EndTime offsets such as "-PT1H") runs at once; a cron schedule runs when
`MonitorService.run_schedule` is called (tests and demos call it for "the next hour"), over the hour before its
scheduled time, as AWS's hourly executions do.
"""
from __future__ import annotations

import re
import sys
import threading
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Protocol

from harness.durability.cloud_state import Regional, ServicePart, durable
from harness.overlay import ActiveSlot, Call, ServiceError, register
from harness.sagemaker.monitor.baseline import MonitorError
from harness.sagemaker.monitor.run import endpoint_capture_destination, run_monitoring

ACTIONS = ("CreateMonitoringSchedule", "DescribeMonitoringSchedule", "ListMonitoringSchedules",
           "UpdateMonitoringSchedule", "DeleteMonitoringSchedule", "StartMonitoringSchedule",
           "StopMonitoringSchedule", "ListMonitoringExecutions")
TERMINAL = ("Completed", "CompletedWithViolations", "Failed", "Stopped")
_OFFSET = re.compile(r"(-)?PT(?:(\d+)H)?(?:(\d+)M)?")


class ClientSource(Protocol):
    def client(self, service: str) -> Any: ...


@dataclass
class _Cloud:
    """What `run_monitoring` needs: clients, the account and the region."""

    source: ClientSource
    account: str
    region: str

    def client(self, service: str) -> Any:
        return self.source.client(service)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _not_found(name: str) -> ServiceError:
    return ServiceError("ResourceNotFound", f"Monitoring Schedule {name} does not exist.")


def offset(value: str | None) -> timedelta | None:
    """An ISO 8601 offset of DataAnalysisStartTime/EndTime ("-PT1H", "-PT0H", "-PT30M") as a timedelta."""
    if not value:
        return None
    m = _OFFSET.fullmatch(value.strip())
    if m is None or (m.group(2) is None and m.group(3) is None):
        raise ServiceError("ValidationException", f"Invalid data analysis time offset {value!r}: use an ISO 8601 "
                                                  f"duration such as -PT1H")
    delta = timedelta(hours=int(m.group(2) or 0), minutes=int(m.group(3) or 0))
    return -delta if m.group(1) else delta


@dataclass
class Execution:
    schedule: "Schedule"
    scheduled_time: datetime
    created: datetime = field(default_factory=_now)
    modified: datetime = field(default_factory=_now)
    status: str = "Pending"
    processing_job_arn: str | None = None
    failure_reason: str | None = None
    result: Any = None

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"MonitoringScheduleName": self.schedule.name, "ScheduledTime": self.scheduled_time,
                               "CreationTime": self.created, "LastModifiedTime": self.modified,
                               "MonitoringExecutionStatus": self.status, "EndpointName": self.schedule.endpoint,
                               "MonitoringType": self.schedule.monitoring_type}
        if self.processing_job_arn:
            out["ProcessingJobArn"] = self.processing_job_arn
        if self.failure_reason:
            out["FailureReason"] = self.failure_reason
        return out


@dataclass
class Schedule:
    name: str
    arn: str
    config: dict[str, Any]
    tags: list[dict[str, str]]
    created: datetime = field(default_factory=_now)
    modified: datetime = field(default_factory=_now)
    status: str = "Scheduled"
    executions: list[Execution] = field(default_factory=list)

    @property
    def definition(self) -> dict[str, Any]:
        return self.config["MonitoringJobDefinition"]

    @property
    def endpoint(self) -> str:
        return self.definition["MonitoringInputs"][0]["EndpointInput"]["EndpointName"]

    @property
    def monitoring_type(self) -> str:
        return self.config.get("MonitoringType", "DataQuality")

    @property
    def expression(self) -> str:
        return self.config["ScheduleConfig"]["ScheduleExpression"]

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"MonitoringScheduleArn": self.arn, "MonitoringScheduleName": self.name,
                               "MonitoringScheduleStatus": self.status, "MonitoringType": self.monitoring_type,
                               "CreationTime": self.created, "LastModifiedTime": self.modified,
                               "MonitoringScheduleConfig": self.config, "EndpointName": self.endpoint}
        if self.executions:
            out["LastMonitoringExecutionSummary"] = self.executions[-1].summary()
        return out

    def summary(self) -> dict[str, Any]:
        return {"MonitoringScheduleName": self.name, "MonitoringScheduleArn": self.arn,
                "CreationTime": self.created, "LastModifiedTime": self.modified,
                "MonitoringScheduleStatus": self.status, "EndpointName": self.endpoint,
                "MonitoringType": self.monitoring_type}


class Region:
    """The monitoring schedules of one account in one region."""

    def __init__(self, service: "MonitorService", account: str, region: str):
        self.service, self.account, self.region = service, account, region
        self.schedules: dict[str, Schedule] = {}
        self.lock = threading.Lock()

    def state(self) -> dict[str, Schedule]:
        """Every schedule with its executions (`drydock serve`'s journal)."""
        with self.lock:
            return dict(self.schedules)

    def restore(self, schedules: dict[str, Schedule]) -> None:
        with self.lock:
            self.schedules = schedules

    def resume(self) -> None:
        """Monitoring executions cut short by a restart run again."""
        with self.lock:
            unfinished = [e for s in self.schedules.values() for e in s.executions
                          if e.status in ("Pending", "InProgress")]
        for execution in unfinished:
            threading.Thread(target=self.execute, args=(execution,), daemon=True,
                             name=f"drydock-monitoring-{execution.schedule.name}").start()

    def schedule(self, name: str) -> Schedule:
        found = self.schedules.get(name)
        if found is None:
            raise _not_found(name)
        return found

    def create_monitoring_schedule(self, p: dict[str, Any]) -> dict[str, Any]:
        name, config = p["MonitoringScheduleName"], p["MonitoringScheduleConfig"]
        validate_config(config)
        with self.lock:
            if name in self.schedules:
                raise ServiceError("ResourceInUse", f"Monitoring Schedule {name} already exists.")
            arn = f"arn:aws:sagemaker:{self.region}:{self.account}:monitoring-schedule/{name.lower()}"
            schedule = self.schedules[name] = Schedule(name, arn, config, list(p.get("Tags") or []))
        if schedule.expression.strip().upper() == "NOW":
            self.start(schedule, _now(), background=True)
        return {"MonitoringScheduleArn": schedule.arn}

    def describe_monitoring_schedule(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            return self.schedule(p["MonitoringScheduleName"]).describe()

    def list_monitoring_schedules(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            found = [s for s in self.schedules.values()
                     if (not p.get("EndpointName") or s.endpoint == p["EndpointName"])
                     and (not p.get("NameContains") or p["NameContains"] in s.name)
                     and (not p.get("StatusEquals") or s.status == p["StatusEquals"])
                     and (not p.get("MonitoringTypeEquals") or s.monitoring_type == p["MonitoringTypeEquals"])]
        key = {"Name": lambda s: s.name, "Status": lambda s: s.status}.get(p.get("SortBy", ""), lambda s: s.created)
        found.sort(key=key, reverse=p.get("SortOrder", "Descending") == "Descending")
        page, token = _page(found, p)
        return {"MonitoringScheduleSummaries": [s.summary() for s in page], **token}

    def update_monitoring_schedule(self, p: dict[str, Any]) -> dict[str, Any]:
        validate_config(p["MonitoringScheduleConfig"])
        with self.lock:
            schedule = self.schedule(p["MonitoringScheduleName"])
            schedule.config, schedule.modified = p["MonitoringScheduleConfig"], _now()
        return {"MonitoringScheduleArn": schedule.arn}

    def delete_monitoring_schedule(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.schedule(p["MonitoringScheduleName"])
            del self.schedules[p["MonitoringScheduleName"]]
        return {}

    def start_monitoring_schedule(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._set_status(p["MonitoringScheduleName"], "Scheduled")

    def stop_monitoring_schedule(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._set_status(p["MonitoringScheduleName"], "Stopped")

    def _set_status(self, name: str, status: str) -> dict[str, Any]:
        with self.lock:
            schedule = self.schedule(name)
            schedule.status, schedule.modified = status, _now()
        return {}

    def list_monitoring_executions(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            found = [e for s in self.schedules.values() for e in s.executions
                     if (not p.get("MonitoringScheduleName") or s.name == p["MonitoringScheduleName"])
                     and (not p.get("EndpointName") or s.endpoint == p["EndpointName"])
                     and (not p.get("StatusEquals") or e.status == p["StatusEquals"])
                     and (not p.get("ScheduledTimeBefore") or e.scheduled_time < p["ScheduledTimeBefore"])
                     and (not p.get("ScheduledTimeAfter") or e.scheduled_time > p["ScheduledTimeAfter"])]
            summaries = [e.summary() for e in found]
        key = {"CreationTime": "CreationTime", "Status": "MonitoringExecutionStatus"}.get(p.get("SortBy", ""),
                                                                                           "ScheduledTime")
        summaries.sort(key=lambda s: s[key], reverse=p.get("SortOrder", "Descending") == "Descending")
        page, token = _page(summaries, p)
        return {"MonitoringExecutionSummaries": page, **token}

    # ------------------------------------------------------------------ executions
    def start(self, schedule: Schedule, scheduled_time: datetime, *, background: bool) -> Execution:
        execution = Execution(schedule, scheduled_time)
        with self.lock:
            schedule.executions.append(execution)
        if background:
            threading.Thread(target=self.execute, args=(execution,), daemon=True,
                             name=f"drydock-monitoring-{schedule.name}").start()
        else:
            self.execute(execution)
        return execution

    def execute(self, execution: Execution) -> None:
        schedule = execution.schedule
        config = schedule.config.get("ScheduleConfig") or {}
        definition = schedule.definition
        baseline = definition["BaselineConfig"]
        job_name = f"model-monitoring-{execution.scheduled_time:%Y%m%d%H%M}-{uuid.uuid4().hex[:8]}"
        execution.processing_job_arn = f"arn:aws:sagemaker:{self.region}:{self.account}:processing-job/{job_name}"
        self._update(execution, "InProgress")
        if config.get("ScheduleExpression", "").strip().upper() == "NOW":
            start, end = offset(config.get("DataAnalysisStartTime")), offset(config.get("DataAnalysisEndTime"))
            window = (None if start is None else execution.scheduled_time + start,
                      None if end is None else execution.scheduled_time + end)
        else:  # an hourly execution analyses the hour before its scheduled time
            window = (execution.scheduled_time - timedelta(hours=1), execution.scheduled_time)
        cloud = _Cloud(self.service.clients(self.account, self.region), self.account, self.region)
        try:
            endpoint = schedule.endpoint
            result = run_monitoring(
                cloud, endpoint=endpoint, capture=self.service.capture_destination(cloud, endpoint),
                output=definition["MonitoringOutputConfig"]["MonitoringOutputs"][0]["S3Output"]["S3Uri"],
                statistics=baseline["StatisticsResource"]["S3Uri"],
                constraints=baseline["ConstraintsResource"]["S3Uri"], schedule=schedule.name,
                start=window[0], end=window[1], scheduled_time=execution.scheduled_time,
                schedule_arn=schedule.arn, role_arn=definition.get("RoleArn"), processing_job_name=job_name)
        except MonitorError as err:
            self._update(execution, "Failed", str(err))
            return
        except Exception as err:  # a drydock bug: fail the execution, say why
            traceback.print_exc(file=sys.stderr)
            self._update(execution, "Failed", f"drydock failed: {type(err).__name__}: {err}")
            return
        execution.result = result
        self._update(execution, result.status)

    def _update(self, execution: Execution, status: str, reason: str | None = None) -> None:
        with self.lock:
            execution.status, execution.modified = status, _now()
            if reason:
                execution.failure_reason = reason[:1024]


def validate_config(config: dict[str, Any]) -> None:
    """Refuse what drydock does not run, with ValidationException as AWS words its own refusals."""
    if config.get("MonitoringType", "DataQuality") != "DataQuality":
        raise ServiceError("ValidationException", f"drydock runs DataQuality monitoring only, not "
                                                  f"{config['MonitoringType']}")
    definition = config.get("MonitoringJobDefinition")
    if definition is None:
        raise ServiceError("ValidationException", "drydock needs an inline MonitoringJobDefinition "
                                                  "(MonitoringJobDefinitionName is not supported)")
    if not config.get("ScheduleConfig", {}).get("ScheduleExpression"):
        raise ServiceError("ValidationException", "ScheduleConfig.ScheduleExpression is required")
    baseline = definition.get("BaselineConfig") or {}
    if not (baseline.get("StatisticsResource") or {}).get("S3Uri") or \
            not (baseline.get("ConstraintsResource") or {}).get("S3Uri"):
        raise ServiceError("ValidationException", "BaselineConfig needs StatisticsResource.S3Uri and "
                                                  "ConstraintsResource.S3Uri: drydock checks against a baseline")
    inputs = definition.get("MonitoringInputs") or []
    if len(inputs) != 1 or "EndpointInput" not in inputs[0]:
        raise ServiceError("ValidationException", "MonitoringInputs must hold exactly one EndpointInput "
                                                  "(batch transform input is not supported)")
    outputs = (definition.get("MonitoringOutputConfig") or {}).get("MonitoringOutputs") or []
    if len(outputs) != 1:
        raise ServiceError("ValidationException", "MonitoringOutputConfig.MonitoringOutputs must hold one S3Output")


def _page(items: list[Any], p: dict[str, Any]) -> tuple[list[Any], dict[str, str]]:
    start = int(p.get("NextToken") or 0)
    size = int(p.get("MaxResults") or 100)
    page = items[start:start + size]
    return page, ({"NextToken": str(start + size)} if start + size < len(items) else {})


def _in_process_clients(account: str, region: str) -> ClientSource:
    from harness.cloud import LocalCloud

    return LocalCloud(region=region, account=account)


class MonitorService(Regional):
    """The monitoring schedules of every account and region.

    Args:
        clients: `(account, region) -> ClientSource` for S3, SageMaker and EventBridge (the in-process cloud
            by default).
        capture_destination: `(cloud, endpoint) -> s3 URI` of the endpoint's data capture
            (`endpoint_capture_destination`, which asks DescribeEndpoint, by default).
    """

    def __init__(self, clients: Callable[[str, str], ClientSource] = _in_process_clients,
                 capture_destination: Callable[[Any, str], str] = endpoint_capture_destination):
        self.clients = clients
        self.capture_destination = capture_destination
        self._regions: dict[tuple[str, str], Region] = {}
        self._lock = threading.Lock()

    def region(self, account: str, region: str) -> Region:
        with self._lock:
            found = self._regions.get((account, region))
            if found is None:
                found = self._regions[(account, region)] = Region(self, account, region)
            return found

    def handle(self, action: str, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        if action not in ACTIONS:
            raise ServiceError("UnknownOperationException", f"drydock's Model Monitor does not answer {action}")
        name = re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()
        return getattr(self.region(account, region), name)(params)

    def run_schedule(self, account: str, region: str, name: str,
                     scheduled_time: datetime | None = None) -> Execution:
        """Run one execution of a schedule now and wait for it: drydock's stand-in for the hourly trigger.

        Args:
            scheduled_time: the execution's scheduled time; default the next full hour, so the execution
                analyses the current hour's captures.

        Raises:
            ServiceError: ResourceNotFound for an unknown schedule, ValidationException for a stopped one.
        """
        r = self.region(account, region)
        with r.lock:
            schedule = r.schedule(name)
            if schedule.status == "Stopped":
                raise ServiceError("ValidationException", f"Monitoring Schedule {name} is Stopped")
        if scheduled_time is None:
            scheduled_time = _now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return r.start(schedule, scheduled_time, background=False)


_SLOT: ActiveSlot[MonitorService] = ActiveSlot(MonitorService)
install = _SLOT.install  # the service boto3 clients and drydock serve reach
active_service = _SLOT.get


durable(ServicePart("sagemaker-monitor", active_service), "sagemaker", ACTIONS)


@register("sagemaker", ACTIONS)
def _answer(call: Call) -> dict[str, Any]:
    return active_service().handle(call.action, call.account, call.region, call.params)
