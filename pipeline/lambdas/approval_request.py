"""Lambda: turn a DescribeModelPackage answer into what the approval request and the deployment need.

The state machine calls it with the model package's description (aws-sdk:sagemaker:describeModelPackage)
and gets back, in one flat object: the package's ARN, group and version; the container to deploy
(Image, ModelDataUrl and Environment: the fields CreateModel takes); and where the evaluation report
attached to the package lives (ModelMetrics.ModelQuality.Statistics), split into Bucket and Key for
aws-sdk:s3:getObject. A pure function: it calls no AWS API, so it needs no permission but its logs.
"""
from urllib.parse import urlsplit

CONTAINER_FIELDS = ("Image", "ModelDataUrl", "Environment")


def handler(event, context=None):
    containers = (event.get("InferenceSpecification") or {}).get("Containers") or []
    if not containers:
        raise ValueError(f"model package {event.get('ModelPackageArn')} has no inference container to deploy")
    container = {key: containers[0][key] for key in CONTAINER_FIELDS if containers[0].get(key)}
    statistics = ((event.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics") or {}
    location = metrics_location(statistics.get("S3Uri"))
    return {
        "ModelPackageArn": event["ModelPackageArn"],
        "ModelPackageGroupName": event.get("ModelPackageGroupName", ""),
        "ModelPackageVersion": event.get("ModelPackageVersion", 0),
        "Container": container,
        "HasMetrics": location is not None,
        "MetricsLocation": location or {"Bucket": "", "Key": ""},
    }


def metrics_location(uri):
    """s3://bucket/key -> {"Bucket", "Key"}; None for anything else."""
    if not isinstance(uri, str):
        return None
    parts = urlsplit(uri)
    key = parts.path.lstrip("/")
    if parts.scheme != "s3" or not parts.netloc or not key:
        return None
    return {"Bucket": parts.netloc, "Key": key}
