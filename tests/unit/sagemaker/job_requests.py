"""Create*Job requests shaped as the SageMaker Python SDK v2 sends them, plus the uploads they refer to.

Training requests follow `sagemaker.xgboost.XGBoost` in script mode (hyperparameters json-encoded, the source
dir as s3://.../source/sourcedir.tar.gz); processing requests follow `ScriptProcessor.run` (the code as a
ProcessingInput named "code" at /opt/ml/processing/input/code, entry point `python3 <that path>`).
"""
import io
import json
import tarfile
from pathlib import Path

REGION = "us-east-1"
BUCKET = "drydock-jobs"
ROLE = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
CODE_DIR = "/opt/ml/processing/input/code"
PIPELINE_SCRIPTS = Path(__file__).resolve().parents[3] / "pipeline" / "scripts"


def s3_uri(key):
    return f"s3://{BUCKET}/{key}"


def upload_text(s3, key, text):
    s3.put_object(Bucket=BUCKET, Key=key, Body=text.encode())
    return s3_uri(key)


def upload_source_dir(s3, job_name, files):
    """Pack {name: source text} as the SDK packs source_dir and upload it; returns the sourcedir.tar.gz URI."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    key = f"{job_name}/source/sourcedir.tar.gz"
    s3.put_object(Bucket=BUCKET, Key=key, Body=buffer.getvalue())
    return s3_uri(key)


def channel(name, uri, data_type="S3Prefix"):
    return {
        "ChannelName": name,
        "DataSource": {"S3DataSource": {"S3DataType": data_type, "S3Uri": uri,
                                        "S3DataDistributionType": "FullyReplicated"}},
        "ContentType": "text/csv",
    }


def training_request(job_name, channels, hyperparameters, submit_dir, program="train.py", metric_definitions=(),
                     max_runtime=3600):
    encoded = {name: json.dumps(value) for name, value in hyperparameters.items()}
    encoded.update({
        "sagemaker_program": json.dumps(program),
        "sagemaker_submit_directory": json.dumps(submit_dir),
        "sagemaker_container_log_level": "20",
        "sagemaker_job_name": json.dumps(job_name),
        "sagemaker_region": json.dumps(REGION),
    })
    return {
        "TrainingJobName": job_name,
        "AlgorithmSpecification": {
            "TrainingImage": XGBOOST_IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": list(metric_definitions),
            "EnableSageMakerMetricsTimeSeries": True,
        },
        "RoleArn": ROLE,
        "InputDataConfig": list(channels),
        "OutputDataConfig": {"S3OutputPath": s3_uri("models")},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
        "HyperParameters": encoded,
    }


def s3_input(name, uri, local_path):
    return {
        "InputName": name,
        "AppManaged": False,
        "S3Input": {"S3Uri": uri, "LocalPath": local_path, "S3DataType": "S3Prefix", "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated", "S3CompressionType": "None"},
    }


def s3_output(name, uri, local_path):
    return {"OutputName": name, "AppManaged": False,
            "S3Output": {"S3Uri": uri, "LocalPath": local_path, "S3UploadMode": "EndOfJob"}}


def processing_request(job_name, code_uri, inputs=(), outputs=(), arguments=(), environment=None, max_runtime=3600,
                       image=SKLEARN_IMAGE):
    script = code_uri.rsplit("/", 1)[-1]
    request = {
        "ProcessingJobName": job_name,
        "ProcessingInputs": [*inputs, s3_input("code", code_uri, CODE_DIR)],
        "ProcessingOutputConfig": {"Outputs": list(outputs)},
        "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1,
                                                  "VolumeSizeInGB": 30}},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
        "AppSpecification": {"ImageUri": image, "ContainerEntrypoint": ["python3", f"{CODE_DIR}/{script}"]},
        "RoleArn": ROLE,
    }
    if arguments:
        request["AppSpecification"]["ContainerArguments"] = list(arguments)
    if environment:
        request["Environment"] = environment
    return request
