"""Lambda (the pipeline's LatestApprovedAuc step): the AUC of the newest *approved* version in a model package group.

The SageMaker pipeline calls it with `{"ModelPackageGroupName": ...}` and compares the new model's AUC with the
answer, so a retrained model is registered only when it is not worse than the one in production. It reads the
evaluation report attached to that version (ModelMetrics.ModelQuality.Statistics, the pipeline's evaluation.json)
and answers `{"auc": 0.0, ...}` when the group has no approved version yet (or does not exist yet: the pipeline's
register step creates it on its first run).

Permissions: sagemaker:ListModelPackages, sagemaker:DescribeModelPackage on the group's packages, s3:GetObject on
the reports.
"""
import json
from urllib.parse import urlsplit

import boto3
from botocore.exceptions import ClientError

NO_APPROVED_VERSION = {"auc": 0.0, "model_package_arn": "", "model_package_version": 0}


def handler(event, context=None):
    group = event["ModelPackageGroupName"]
    sagemaker = boto3.client("sagemaker")
    try:
        found = sagemaker.list_model_packages(ModelPackageGroupName=group, ModelApprovalStatus="Approved",
                                              SortBy="CreationTime", SortOrder="Descending", MaxResults=1)
    except ClientError as err:
        if err.response["Error"]["Code"] in ("ResourceNotFound", "ValidationException"):
            print("model package group {} not found: {}".format(group, err))
            return dict(NO_APPROVED_VERSION)
        raise
    summaries = found.get("ModelPackageSummaryList", [])
    if not summaries:
        print("no approved version in {}".format(group))
        return dict(NO_APPROVED_VERSION)
    arn = summaries[0]["ModelPackageArn"]
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    statistics = ((package.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics") or {}
    report = read_report(statistics.get("S3Uri"))
    auc = float(report["binary_classification_metrics"]["auc"]["value"])
    print("latest approved version of {}: {} (auc {:.4f})".format(group, arn, auc))
    return {"auc": auc, "model_package_arn": arn, "model_package_version": package.get("ModelPackageVersion", 0)}


def read_report(uri):
    parts = urlsplit(uri or "")
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError("the approved model package has no evaluation report to compare with (got {!r})".format(uri))
    body = boto3.client("s3").get_object(Bucket=parts.netloc, Key=parts.path.lstrip("/"))["Body"].read()
    return json.loads(body)
