"""The SageMaker Model Registry: model package groups, their numbered versions and approval status.

A versioned model package belongs to a group and gets the group's next version, from 1; it keeps what it
was registered with (InferenceSpecification, ModelMetrics, MetadataProperties, ...) and starts
PendingManualApproval unless the request says otherwise. UpdateModelPackage moves its approval status.
Each new version and each approval change is announced through `emit` as the EventBridge event
"SageMaker Model Package State Change" (`state_change_event`), which rules on the default bus match.
https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry.html
https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html#eventbridge-model-package
"""
from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable


from harness.overlay import ServiceError
from harness.sagemaker.listing import Fields, select
from harness.sagemaker.service_model import output_members, shape_members

APPROVAL_STATUSES = ("Approved", "Rejected", "PendingManualApproval")
DEFAULT_APPROVAL = "PendingManualApproval"
EVENT_SOURCE = "aws.sagemaker"
EVENT_DETAIL_TYPE = "SageMaker Model Package State Change"


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Group:
    name: str
    arn: str
    description: str | None
    created: datetime
    tags: list[dict[str, str]]
    last_version: int = 0  # versions are never reused, even after a delete


@dataclass
class Package:
    arn: str
    name: str  # the group's name for a versioned package
    group: str | None
    version: int | None
    request: dict[str, Any]
    created: datetime
    modified: datetime
    approval: str | None
    extra: dict[str, Any] = field(default_factory=dict)  # what UpdateModelPackage set
    client_token: str | None = None  # CreateModelPackage's idempotency token

    def describe(self) -> dict[str, Any]:
        out = {k: v for k, v in self.request.items() if k in output_members("DescribeModelPackage")}
        out.update(self.extra)
        out.update({"ModelPackageName": self.name, "ModelPackageArn": self.arn, "CreationTime": self.created,
                    "ModelPackageStatus": "Completed",
                    "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
                    "CertifyForMarketplace": self.request.get("CertifyForMarketplace", False),
                    "LastModifiedTime": self.modified})
        if self.group is not None:
            out.update({"ModelPackageGroupName": self.group, "ModelPackageVersion": self.version,
                        "ModelApprovalStatus": self.approval})
        return out

    def summary(self) -> dict[str, Any]:
        return {k: v for k, v in self.describe().items() if k in shape_members("ModelPackageSummary")}


class Registry:
    """Model package groups and packages of one account in one region.

    Args:
        arn: `(resource_type, resource_name) -> ARN` in this account and region.
        emit: called with each EventBridge event this registry raises (in the shape PutEvents routes).
    """

    def __init__(self, arn: Callable[[str, str], str], emit: Callable[[dict[str, Any]], None], *,
                 account: str, region: str):
        self._arn, self._emit = arn, emit
        self.account, self.region = account, region
        self.groups: dict[str, Group] = {}
        self.packages: dict[str, Package] = {}
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ groups
    def create_model_package_group(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["ModelPackageGroupName"]
        with self._lock:
            if name in self.groups:
                raise ServiceError("ValidationException", f"Model Package Group already exists: "
                                                          f"{self.groups[name].arn}")
            group = Group(name, self._arn("model-package-group", name.lower()), p.get("ModelPackageGroupDescription"),
                          _now(), p.get("Tags", []))
            self.groups[name] = group
        return {"ModelPackageGroupArn": group.arn}

    def describe_model_package_group(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._describe_group(self._group(p["ModelPackageGroupName"]))

    def list_model_package_groups(self, p: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            groups = list(self.groups.values())
        page, token = select(groups, p, Fields(lambda g: g.name, lambda g: g.created))
        members = shape_members("ModelPackageGroupSummary")
        return {"ModelPackageGroupSummaryList": [{k: v for k, v in self._describe_group(g).items() if k in members}
                                                 for g in page], **token}

    def delete_model_package_group(self, p: dict[str, Any]) -> dict[str, Any]:
        group = self._group(p["ModelPackageGroupName"])
        with self._lock:
            if any(pkg.group == group.name for pkg in self.packages.values()):
                raise ServiceError("ConflictException", f"Model Package Group {group.name} still has model "
                                                         f"packages; delete them first")
            del self.groups[group.name]
        return {}

    def _describe_group(self, group: Group) -> dict[str, Any]:
        out: dict[str, Any] = {"ModelPackageGroupName": group.name, "ModelPackageGroupArn": group.arn,
                               "CreationTime": group.created, "CreatedBy": {},
                               "ModelPackageGroupStatus": "Completed"}
        if group.description is not None:
            out["ModelPackageGroupDescription"] = group.description
        return out

    def _group(self, name_or_arn: str) -> Group:
        name = name_or_arn.split("model-package-group/", 1)[1] if name_or_arn.startswith("arn:") else name_or_arn
        with self._lock:
            group = self.groups.get(name) or next((g for g in self.groups.values() if g.arn == name_or_arn
                                                  or g.name.lower() == name.lower()), None)
        if group is None:
            raise ServiceError("ValidationException", f"Model Package Group {name} does not exist.")
        return group

    # ------------------------------------------------------------------ packages
    def create_model_package(self, p: dict[str, Any]) -> dict[str, Any]:
        if ("ModelPackageGroupName" in p) == ("ModelPackageName" in p):
            raise ServiceError("ValidationException", "Exactly one of ModelPackageName (an unversioned model "
                                                      "package) or ModelPackageGroupName (a versioned one) is "
                                                      "required")
        approval = p.get("ModelApprovalStatus")
        if approval is not None and approval not in APPROVAL_STATUSES:
            raise _bad_approval(approval)
        at = _now()
        with self._lock:
            token = p.get("ClientToken")
            earlier = next((pkg for pkg in self.packages.values() if token and pkg.client_token == token),
                           None)
            if earlier is not None:  # the same request again (a retry): the same package, as AWS answers it
                return {"ModelPackageArn": earlier.arn}
            if "ModelPackageGroupName" in p:
                group = self._group(p["ModelPackageGroupName"])
                group.last_version += 1
                version = group.last_version
                package = Package(self._arn("model-package", f"{group.name.lower()}/{version}"), group.name,
                                  group.name, version, _stored(p), at, at, approval or DEFAULT_APPROVAL)
            else:
                name = p["ModelPackageName"]
                if any(pkg.group is None and pkg.name == name for pkg in self.packages.values()):
                    raise ServiceError("ValidationException", f"Model Package {name} already exists.")
                package = Package(self._arn("model-package", name.lower()), name, None, None, _stored(p), at, at,
                                  None)
            package.client_token = token
            self.packages[package.arn] = package
        self._announce(package)
        return {"ModelPackageArn": package.arn}

    def describe_model_package(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._package(p["ModelPackageName"]).describe()

    def list_model_packages(self, p: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            packages = list(self.packages.values())
        if p.get("ModelPackageGroupName"):
            group = self._group(p["ModelPackageGroupName"])
            packages = [pkg for pkg in packages if pkg.group == group.name]
        else:  # "Unversioned ... is the default value if no ModelPackageType is specified"
            kind = p.get("ModelPackageType") or "Unversioned"
            if kind != "Both":
                packages = [pkg for pkg in packages if (pkg.group is not None) == (kind == "Versioned")]
        if p.get("ModelApprovalStatus"):
            packages = [pkg for pkg in packages if pkg.approval == p["ModelApprovalStatus"]]
        page, token = select(packages, p, Fields(lambda pkg: pkg.name, lambda pkg: pkg.created))
        return {"ModelPackageSummaryList": [pkg.summary() for pkg in page], **token}

    def update_model_package(self, p: dict[str, Any]) -> dict[str, Any]:
        package = self._package(p["ModelPackageArn"])
        approval = p.get("ModelApprovalStatus")
        with self._lock:
            changed = False
            if approval is not None:
                if approval not in APPROVAL_STATUSES:
                    raise _bad_approval(approval)
                if package.group is None:
                    raise ServiceError("ValidationException", "ModelApprovalStatus applies to versioned model "
                                                              "packages only (those of a model package group)")
                changed = approval != package.approval
                package.approval = approval
            if "ApprovalDescription" in p:
                package.extra["ApprovalDescription"] = p["ApprovalDescription"]
            metadata = dict(package.extra.get("CustomerMetadataProperties",
                                              package.request.get("CustomerMetadataProperties", {})))
            metadata.update(p.get("CustomerMetadataProperties", {}))
            for key in p.get("CustomerMetadataPropertiesToRemove", []):
                metadata.pop(key, None)
            if "CustomerMetadataProperties" in p or "CustomerMetadataPropertiesToRemove" in p:
                package.extra["CustomerMetadataProperties"] = metadata
            if p.get("AdditionalInferenceSpecificationsToAdd"):
                package.extra["AdditionalInferenceSpecifications"] = [
                    *package.extra.get("AdditionalInferenceSpecifications",
                                       package.request.get("AdditionalInferenceSpecifications", [])),
                    *p["AdditionalInferenceSpecificationsToAdd"]]
            for key in ("InferenceSpecification", "SourceUri", "ModelCard", "ModelLifeCycle"):
                if key in p:
                    package.extra[key] = p[key]
            package.modified = _now()
        if changed:
            self._announce(package)
        return {"ModelPackageArn": package.arn}

    def delete_model_package(self, p: dict[str, Any]) -> dict[str, Any]:
        package = self._package(p["ModelPackageName"])
        with self._lock:
            self.packages.pop(package.arn, None)
        return {}

    def _package(self, name: str) -> Package:
        """By ARN, by the name of an unversioned package, or as `<group>/<version>`."""
        with self._lock:
            package = self.packages.get(name)
            if package is None and not name.startswith("arn:"):
                package = next((pkg for pkg in self.packages.values()
                                if (pkg.group is None and pkg.name == name)
                                or (pkg.group is not None and f"{pkg.group}/{pkg.version}" == name)), None)
        if package is None:
            raise ServiceError("ValidationException", f"ModelPackage {name} does not exist.")
        return package

    # ------------------------------------------------------------------ events
    def _announce(self, package: Package) -> None:
        self._emit(state_change_event(package, account=self.account, region=self.region))


def state_change_event(package: Package, *, account: str, region: str) -> dict[str, Any]:
    """The "SageMaker Model Package State Change" event, as EventBridge delivers it to a rule's targets.

    The detail is the package's DescribeModelPackage answer; its times are epoch seconds as text, the
    form AWS's example of this event shows ("CreationTime": "1614186011").
    """
    detail = _event_json(package.describe())
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": EVENT_DETAIL_TYPE, "source": EVENT_SOURCE,
            "account": account, "time": _now().strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region,
            "resources": [package.arn], "detail": detail}


def _event_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _event_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_event_json(v) for v in value]
    if isinstance(value, datetime):
        return str(int(value.timestamp()))
    return value


def _stored(p: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in p.items() if k not in ("ClientToken", "Tags", "ModelApprovalStatus")}


def _bad_approval(value: str) -> ServiceError:
    return ServiceError("ValidationException", f"1 validation error detected: Value '{value}' at "
                                               f"'modelApprovalStatus' failed to satisfy constraint: Member must "
                                               f"satisfy enum value set: [{', '.join(APPROVAL_STATUSES)}]")


