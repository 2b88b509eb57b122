"""The platform side of the SageMaker container contract: the /opt/ml tree a job sees, built from its request.

Mirrors "How Amazon SageMaker Provides Training Information" and "How SageMaker Processing Configures Your
Container": channels and processing inputs are downloaded from S3 into the job root, the config files are
written as SageMaker writes them, and afterwards the model, output data and processing outputs go back to S3.
For script mode it also plays the sagemaker-training toolkit (the `train` command inside framework images):
it unpacks `sagemaker_submit_directory`, passes the other hyperparameters as `--name value` arguments and sets
the SM_* variables the toolkit derives from the config files. Requests use the boto3 CreateTrainingJob /
CreateProcessingJob shapes; the job root stands for /opt/ml, so `<root>/input/data/train` is
/opt/ml/input/data/train.
"""
from __future__ import annotations

import json
import os
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import ClientError

from harness.sagemaker.backends import OPT_ML

CURRENT_HOST = "algo-1"
PROCESSING_PREFIX = f"{OPT_ML}/processing/"
CODE_DIR = f"{OPT_ML}/code"
FAILURE_FILE = Path("output") / "failure"
LOG_LEVEL_INFO = 20
SPOOL_LIMIT = 64 * 1024 * 1024
S3_ERRORS = (ClientError, S3UploadFailedError)  # boto3's upload_file wraps ClientError in the latter


class PlatformError(Exception):
    """The platform could not move the job's data or code; str() is the FailureReason ("ClientError: ...")."""


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise PlatformError(f"ClientError: {uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


# --- downloads -----------------------------------------------------------------------------------------------

def download_s3_data(s3: Any, uri: str, data_type: str, target: Path) -> list[Path]:
    """Download what an S3DataSource / S3Input names into `target`; returns the files written.

    S3Prefix: every object whose key starts with the prefix, at its path relative to the prefix (a prefix that is
    a whole key lands as its base name). ManifestFile: the manifest's `{"prefix": ...}` plus relative keys.
    """
    target.mkdir(parents=True, exist_ok=True)
    try:
        return _download_s3_data(s3, uri, data_type, target)
    except S3_ERRORS as error:
        raise PlatformError(f"ClientError: Data download failed for {uri}: {error}") from error


def _download_s3_data(s3: Any, uri: str, data_type: str, target: Path) -> list[Path]:
    if data_type == "S3Prefix":
        bucket, prefix = parse_s3_uri(uri)
        keys = keys_under(s3, bucket, prefix)
        return [download_object(s3, bucket, key, target, key[len(prefix):].lstrip("/") or PurePosixPath(key).name)
                for key in keys]
    if data_type == "ManifestFile":
        base_bucket, base_prefix, entries = read_manifest(s3, uri)
        return [download_object(s3, base_bucket, base_prefix + relative, target, relative) for relative in entries]
    raise PlatformError(f"ClientError: S3DataType {data_type} is not supported by drydock (S3Prefix, ManifestFile)")


def read_manifest(s3: Any, uri: str) -> tuple[str, str, list[str]]:
    """A manifest file's `[{"prefix": "s3://b/p/"}, "relative/key", ...]` as (bucket, prefix, relative keys)."""
    bucket, key = parse_s3_uri(uri)
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    if not manifest or not isinstance(manifest[0], dict) or "prefix" not in manifest[0]:
        raise PlatformError(f'ClientError: manifest {uri} must start with {{"prefix": "s3://..."}}')
    base_bucket, base_prefix = parse_s3_uri(manifest[0]["prefix"])
    return base_bucket, base_prefix, [str(relative) for relative in manifest[1:]]


def keys_under(s3: Any, bucket: str, prefix: str) -> list[str]:
    """The object keys that start with `prefix` (no folder markers)."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [obj["Key"] for page in pages for obj in page.get("Contents", []) if not obj["Key"].endswith("/")]


def download_object(s3: Any, bucket: str, key: str, target: Path, relative: str) -> Path:
    """Download one object to `target/relative`, refusing a relative path that leaves `target`."""
    destination = (target / relative).resolve()
    if not destination.is_relative_to(target.resolve()):
        raise PlatformError(f"ClientError: S3 key {key!r} would be written outside {target}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    s3.download_file(bucket, key, str(destination))
    return destination


def _empty_input_error(kind: str, name: str, uri: str) -> PlatformError:
    return PlatformError(
        f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data source for {kind} "{name}". '
        "Please ensure that the bucket exists in the selected region, that objects exist under that S3 prefix, "
        "and that the role has s3:ListBucket permissions on the bucket.")


# --- training ------------------------------------------------------------------------------------------------

def materialize_channels(request: dict, root: Path, s3: Any) -> None:
    """Download every InputDataConfig channel into <root>/input/data/<channel> (File mode)."""
    default_mode = request.get("AlgorithmSpecification", {}).get("TrainingInputMode", "File")
    for channel in request.get("InputDataConfig", []):
        name = channel["ChannelName"]
        mode = channel.get("InputMode", default_mode)
        if mode == "Pipe":
            raise PlatformError(f"ClientError: channel {name!r} uses Pipe input mode, which drydock does not "
                                "support; use File or FastFile")
        source = channel["DataSource"].get("S3DataSource")
        if source is None:
            raise PlatformError(f"ClientError: channel {name!r} is not an S3 data source; drydock reads S3 only")
        if not download_s3_data(s3, source["S3Uri"], source["S3DataType"], root / "input" / "data" / name):
            raise _empty_input_error("channel", name, source["S3Uri"])


def write_training_config(request: dict, root: Path) -> None:
    """Write input/config/{hyperparameters,inputdataconfig,resourceconfig}.json as SageMaker does."""
    config_dir = root / "input" / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    for directory in ("model", "output/data", "output/intermediate"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    files = {
        "hyperparameters.json": request.get("HyperParameters", {}),
        "inputdataconfig.json": input_data_config(request),
        "resourceconfig.json": resource_config(request),
    }
    for name, content in files.items():
        (config_dir / name).write_text(json.dumps(content))


def input_data_config(request: dict) -> dict[str, dict[str, str]]:
    default_mode = request.get("AlgorithmSpecification", {}).get("TrainingInputMode", "File")
    config = {}
    for channel in request.get("InputDataConfig", []):
        entry = {"TrainingInputMode": channel.get("InputMode", default_mode)}
        if "ContentType" in channel:
            entry["ContentType"] = channel["ContentType"]
        source = channel["DataSource"].get("S3DataSource", {})
        entry["S3DistributionType"] = source.get("S3DataDistributionType", "FullyReplicated")
        entry["RecordWrapperType"] = channel.get("RecordWrapperType", "None")
        config[channel["ChannelName"]] = entry
    return config


def resource_config(request: dict) -> dict[str, Any]:
    instance_type = request.get("ResourceConfig", {}).get("InstanceType", "local")
    return {
        "current_host": CURRENT_HOST,
        "current_instance_type": instance_type,
        "current_group_name": "homogeneousCluster",
        "hosts": [CURRENT_HOST],
        "instance_groups": [
            {"instance_group_name": "homogeneousCluster", "instance_type": instance_type, "hosts": [CURRENT_HOST]}
        ],
        "network_interface_name": "eth0",
    }


def decode_hyperparameters(raw: dict[str, str]) -> dict[str, Any]:
    """Hyperparameter values as the toolkit reads them: JSON when they parse (the SDK json-encodes), else text."""
    decoded = {}
    for name, value in raw.items():
        try:
            decoded[name] = json.loads(value)
        except ValueError:
            decoded[name] = value
    return decoded


def user_hyperparameters(request: dict) -> dict[str, Any]:
    """The hyperparameters meant for the script: all but the `sagemaker_*` ones the SDK adds for the platform."""
    decoded = decode_hyperparameters(request.get("HyperParameters", {}))
    return {name: value for name, value in decoded.items() if not name.startswith("sagemaker_")}


def to_cmd_args(hyperparameters: dict[str, Any]) -> list[str]:
    """`--name value` pairs in key order, as sagemaker-training's mapping.to_cmd_args builds them."""
    args = []
    for name in sorted(hyperparameters):
        value = hyperparameters[name]
        args.append(f"--{name}" if len(name) > 1 else f"-{name}")
        args.append(",".join(f"{k}={v}" for k, v in sorted(value.items())) if isinstance(value, dict) else str(value))
    return args


def training_command(request: dict, root: Path, s3: Any) -> tuple[list[str], str | None]:
    """The container command and working directory; for script mode, unpacks the source dir into <root>/code."""
    algorithm = request.get("AlgorithmSpecification", {})
    if "ContainerEntrypoint" in algorithm:
        return algorithm["ContainerEntrypoint"] + algorithm.get("ContainerArguments", []), None
    decoded = decode_hyperparameters(request.get("HyperParameters", {}))
    if "sagemaker_program" not in decoded:
        return ["train"], None  # the image's own training entry point
    if "sagemaker_submit_directory" in decoded:
        _unpack_source_dir(s3, decoded["sagemaker_submit_directory"], root / "code")
    program = f"{CODE_DIR}/{decoded['sagemaker_program']}"
    return ["python3", program, *to_cmd_args(user_hyperparameters(request))], CODE_DIR


def _unpack_source_dir(s3: Any, uri: str, code_dir: Path) -> None:
    bucket, key = parse_s3_uri(uri)
    code_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile() as archive:
        try:
            s3.download_fileobj(bucket, key, archive)
        except S3_ERRORS as error:
            raise PlatformError(f"ClientError: cannot read sagemaker_submit_directory {uri}: {error}") from error
        archive.seek(0)
        with tarfile.open(fileobj=archive) as tar:
            tar.extractall(code_dir, filter="data")


def training_environment(request: dict, opt_ml: str) -> dict[str, str]:
    """Platform variables, the toolkit's SM_* variables and the request's Environment, /opt/ml spelled `opt_ml`."""
    training_env = toolkit_training_env(request, opt_ml)
    toolkit = {f"SM_{name.upper()}": training_env[name] for name in TOOLKIT_VARIABLES}
    toolkit.update({
        "SM_HPS": training_env["hyperparameters"],
        "SM_CHANNELS": sorted(training_env["channel_input_dirs"]),
        "SM_FRAMEWORK_PARAMS": training_env["additional_framework_parameters"],
        "SM_USER_ARGS": to_cmd_args(training_env["hyperparameters"]),
        "SM_TRAINING_ENV": training_env,
        **{f"SM_CHANNEL_{name.upper()}": path for name, path in training_env["channel_input_dirs"].items()},
        **{f"SM_HP_{name.upper()}": value for name, value in training_env["hyperparameters"].items()},
    })
    platform = {"TRAINING_JOB_NAME": request["TrainingJobName"], "PYTHONPATH": f"{opt_ml}/code"}
    return {**platform, **{name: _env_value(value) for name, value in toolkit.items()},
            **request.get("Environment", {})}


TOOLKIT_VARIABLES = (
    "current_host", "current_instance_type", "hosts", "input_config_dir", "input_data_config", "input_dir",
    "log_level", "model_dir", "module_dir", "module_name", "network_interface_name", "num_cpus", "num_gpus",
    "output_data_dir", "output_dir", "output_intermediate_dir", "resource_config", "user_entry_point",
)


def toolkit_training_env(request: dict, opt_ml: str) -> dict[str, Any]:
    """The SM_TRAINING_ENV document: everything the toolkit knows about the job, in one JSON object."""
    decoded = decode_hyperparameters(request.get("HyperParameters", {}))
    program = decoded.get("sagemaker_program", "")
    channels = sorted(channel["ChannelName"] for channel in request.get("InputDataConfig", []))
    resources = resource_config(request)
    return {
        "additional_framework_parameters": {k: v for k, v in decoded.items() if k.startswith("sagemaker_")},
        "channel_input_dirs": {name: f"{opt_ml}/input/data/{name}" for name in channels},
        "current_host": CURRENT_HOST,
        "current_instance_type": resources["current_instance_type"],
        "hosts": resources["hosts"],
        "hyperparameters": user_hyperparameters(request),
        "input_config_dir": f"{opt_ml}/input/config",
        "input_data_config": input_data_config(request),
        "input_dir": f"{opt_ml}/input",
        "is_master": True,
        "job_name": request["TrainingJobName"],
        "log_level": decoded.get("sagemaker_container_log_level", LOG_LEVEL_INFO),
        "master_hostname": CURRENT_HOST,
        "model_dir": f"{opt_ml}/model",
        "module_dir": decoded.get("sagemaker_submit_directory", ""),
        "module_name": program.removesuffix(".py"),
        "network_interface_name": "eth0",
        "num_cpus": os.cpu_count() or 1,
        "num_gpus": 0,
        "output_data_dir": f"{opt_ml}/output/data",
        "output_dir": f"{opt_ml}/output",
        "output_intermediate_dir": f"{opt_ml}/output/intermediate",
        "resource_config": resources,
        "user_entry_point": program,
    }


def _env_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def upload_training_artifacts(request: dict, root: Path, s3: Any) -> dict[str, str]:
    """Tar <root>/model and <root>/output/data to <S3OutputPath>/<job>/output/; returns {"model"|"output": uri}."""
    prefix = f"{request['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{request['TrainingJobName']}/output"
    artifacts = {"model": _upload_tar(s3, root / "model", f"{prefix}/model.tar.gz")}
    output_data = root / "output" / "data"
    if any(output_data.iterdir()):
        artifacts["output"] = _upload_tar(s3, output_data, f"{prefix}/output.tar.gz")
    return artifacts


def _upload_tar(s3: Any, directory: Path, uri: str) -> str:
    bucket, key = parse_s3_uri(uri)
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_LIMIT) as archive:
        with tarfile.open(fileobj=archive, mode="w:gz") as tar:
            for path in sorted(directory.iterdir()):
                tar.add(path, arcname=path.name)
        archive.seek(0)
        try:
            s3.upload_fileobj(archive, bucket, key)
        except S3_ERRORS as error:
            raise PlatformError(f"ClientError: Artifact upload failed for {uri}: {error}") from error
    return uri


def read_failure(root: Path) -> str | None:
    """The text the job wrote to /opt/ml/output/failure, if any."""
    failure = root / FAILURE_FILE
    return failure.read_text(errors="replace").strip() if failure.is_file() else None


# --- processing ----------------------------------------------------------------------------------------------

def host_path(root: Path, local_path: str) -> Path:
    """The host directory standing for a container path under /opt/ml."""
    return root / PurePosixPath(local_path).relative_to(OPT_ML)


def materialize_processing_inputs(request: dict, root: Path, s3: Any) -> None:
    """Download each S3Input to its LocalPath; also create /opt/ml/output and every output's LocalPath."""
    (root / FAILURE_FILE.parent).mkdir(parents=True, exist_ok=True)
    for output in _s3_outputs(request):
        host_path(root, output["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
    for processing_input in request.get("ProcessingInputs", []):
        if processing_input.get("AppManaged"):
            continue
        name = processing_input["InputName"]
        source = processing_input.get("S3Input")
        if source is None:
            raise PlatformError(f"ClientError: input {name!r} is a DatasetDefinition, which drydock does not support")
        if source.get("S3InputMode", "File") == "Pipe":
            raise PlatformError(f"ClientError: input {name!r} uses Pipe mode, which drydock does not support")
        target = host_path(root, source["LocalPath"])
        if not download_s3_data(s3, source["S3Uri"], source["S3DataType"], target):
            raise _empty_input_error("input", name, source["S3Uri"])


def processing_command(request: dict) -> list[str]:
    app = request["AppSpecification"]
    return app.get("ContainerEntrypoint", []) + app.get("ContainerArguments", [])


def upload_processing_outputs(request: dict, root: Path, s3: Any) -> dict[str, str]:
    """Upload each S3Output's LocalPath tree to its S3Uri; returns {OutputName: S3Uri}."""
    uploaded = {}
    for output in _s3_outputs(request):
        uri = output["S3Output"]["S3Uri"].rstrip("/")
        bucket, prefix = parse_s3_uri(uri)
        local = host_path(root, output["S3Output"]["LocalPath"])
        for path in sorted(p for p in local.rglob("*") if p.is_file()):
            try:
                s3.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(local).as_posix()}")
            except S3_ERRORS as error:
                raise PlatformError(f"ClientError: Output upload failed for {uri}: {error}") from error
        uploaded[output["OutputName"]] = uri
    return uploaded


def _s3_outputs(request: dict) -> list[dict]:
    """The outputs the platform uploads: S3 ones the container does not manage itself."""
    outputs = request.get("ProcessingOutputConfig", {}).get("Outputs", [])
    return [output for output in outputs if "S3Output" in output and not output.get("AppManaged")]
