"""The /opt/ml contract as a script sees it: config files, SM_* variables, arguments, channels and artifacts."""
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from harness.sagemaker import ProcessBackend, run_processing_job, run_training_job
from harness.sagemaker.container import decode_hyperparameters, to_cmd_args
from job_requests import (BUCKET, channel, processing_request, s3_input, s3_output, s3_uri, training_request,
                          upload_source_dir, upload_text)

PROBE = '''
import glob, json, os, pathlib, sys
probe = {
    "argv": sys.argv[1:],
    "cwd": os.getcwd(),
    "env": {k: v for k, v in os.environ.items() if k.startswith("SM_") or k in ("TRAINING_JOB_NAME", "TEAM")},
    "config": {name: json.load(open("/opt/ml/input/config/" + name))
               for name in ("hyperparameters.json", "inputdataconfig.json", "resourceconfig.json")},
    "train_files": sorted(os.path.relpath(p, "/opt/ml/input/data/train")
                          for p in glob.glob("/opt/ml/input/data/train/**/*.csv", recursive=True)),
    "manifest_files": sorted(p.name for p in pathlib.Path("/opt/ml/input/data/listed").iterdir()),
}
with open("/opt/ml/model/probe.json", "w") as out:
    json.dump(probe, out)
pathlib.Path("/opt/ml/output/data/notes.txt").write_text("written through pathlib")
print("probe done")
'''

HYPERPARAMETERS = {"max_depth": 4, "eta": 0.25, "objective": "binary:logistic", "verbose": True}


@pytest.fixture(scope="module")
def probe_job(s3, work_dir):
    for key in ("probe/train/part-1.csv", "probe/train/nested/part-2.csv", "probe/listed/a.csv",
                "probe/listed/b.csv", "probe/listed/not-listed.csv"):
        upload_text(s3, key, "1,2,3\n")
    manifest = upload_text(s3, "probe/listed.manifest",
                           json.dumps([{"prefix": s3_uri("probe/listed/")}, "a.csv", "b.csv"]))
    request = training_request(
        "probe-train",
        [channel("train", s3_uri("probe/train")), channel("listed", manifest, data_type="ManifestFile")],
        HYPERPARAMETERS, upload_source_dir(s3, "probe-train", {"probe.py": PROBE}), program="probe.py")
    request["Environment"] = {"TEAM": "churn"}
    result = run_training_job(request, s3, ProcessBackend(), work_dir)
    assert result.status == "Completed", result.failure_reason
    return result, json.loads((work_dir / "probe-train" / "model" / "probe.json").read_text()), work_dir / "probe-train"


def test_hyperparameters_json_keeps_every_value_a_string(probe_job):
    _, probe, _ = probe_job
    hyperparameters = probe["config"]["hyperparameters.json"]
    assert all(isinstance(value, str) for value in hyperparameters.values())
    assert hyperparameters["max_depth"] == "4"
    assert hyperparameters["objective"] == '"binary:logistic"'  # json-encoded by the SDK, kept as sent
    assert hyperparameters["sagemaker_program"] == '"probe.py"'


def test_input_and_resource_config_files(probe_job):
    _, probe, _ = probe_job
    assert probe["config"]["inputdataconfig.json"]["train"] == {
        "TrainingInputMode": "File", "ContentType": "text/csv", "S3DistributionType": "FullyReplicated",
        "RecordWrapperType": "None"}
    resources = probe["config"]["resourceconfig.json"]
    assert resources["current_host"] == "algo-1" and resources["hosts"] == ["algo-1"]
    assert resources["current_instance_type"] == "ml.m5.xlarge"


def test_script_gets_user_hyperparameters_as_sorted_cli_arguments(probe_job):
    _, probe, root = probe_job
    assert probe["argv"] == ["--eta", "0.25", "--max_depth", "4", "--objective", "binary:logistic",
                             "--verbose", "True"]
    assert probe["cwd"] == str(root / "code")


def test_sm_environment_points_at_host_paths(probe_job):
    _, probe, root = probe_job
    env = probe["env"]
    assert env["SM_MODEL_DIR"] == f"{root}/model"
    assert env["SM_CHANNEL_TRAIN"] == f"{root}/input/data/train"
    assert env["SM_OUTPUT_DATA_DIR"] == f"{root}/output/data"
    assert env["SM_INPUT_DIR"] == f"{root}/input"
    assert json.loads(env["SM_CHANNELS"]) == ["listed", "train"]
    assert json.loads(env["SM_HPS"]) == HYPERPARAMETERS
    assert env["SM_HP_MAX_DEPTH"] == "4" and env["SM_HP_OBJECTIVE"] == "binary:logistic"
    assert env["SM_CURRENT_HOST"] == "algo-1" and json.loads(env["SM_HOSTS"]) == ["algo-1"]
    assert int(env["SM_NUM_CPUS"]) == os.cpu_count()
    assert env["SM_USER_ENTRY_POINT"] == "probe.py" and env["SM_MODULE_NAME"] == "probe"
    assert env["TRAINING_JOB_NAME"] == "probe-train" and env["TEAM"] == "churn"
    training_env = json.loads(env["SM_TRAINING_ENV"])
    assert training_env["channel_input_dirs"]["train"] == env["SM_CHANNEL_TRAIN"]
    assert training_env["hyperparameters"] == HYPERPARAMETERS
    assert training_env["job_name"] == "probe-train"


def test_channels_hold_prefix_tree_and_manifest_listing(probe_job):
    _, probe, _ = probe_job
    assert probe["train_files"] == ["nested/part-2.csv", "part-1.csv"]
    assert probe["manifest_files"] == ["a.csv", "b.csv"]


def test_model_and_output_data_are_tarred_beside_each_other(s3, probe_job):
    result, _, _ = probe_job
    prefix = f"s3://{BUCKET}/models/probe-train/output"
    assert result.model_artifacts == f"{prefix}/model.tar.gz"
    assert result.output_artifacts == {"output": f"{prefix}/output.tar.gz"}
    archive = s3.get_object(Bucket=BUCKET, Key="models/probe-train/output/output.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert tar.extractfile("notes.txt").read() == b"written through pathlib"
    assert result.log_lines == ["probe done"]


def test_processing_job_maps_inputs_arguments_environment_and_outputs(s3, work_dir):
    code = upload_text(s3, "echo/code/echo.py", '''
import os, shutil, sys
shutil.copy("/opt/ml/processing/input/data/rows.csv", "/opt/ml/processing/out/copied.csv")
os.makedirs("/opt/ml/processing/out/deep", exist_ok=True)
with open("/opt/ml/processing/out/deep/args.txt", "w") as out:
    out.write(" ".join(sys.argv[1:]) + " " + os.environ["STAGE"])
''')
    upload_text(s3, "echo/in/rows.csv", "a,b\n")
    request = processing_request(
        "echo-processing", code,
        inputs=[s3_input("rows", s3_uri("echo/in/rows.csv"), "/opt/ml/processing/input/data")],
        outputs=[s3_output("out", s3_uri("echo/out/"), "/opt/ml/processing/out")],
        arguments=["--mode", "full"], environment={"STAGE": "dev"})

    result = run_processing_job(request, s3, ProcessBackend(), work_dir)

    assert result.status == "Completed", result.failure_reason
    assert result.output_artifacts == {"out": s3_uri("echo/out")}
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="echo/out/")["Contents"])
    assert keys == ["echo/out/copied.csv", "echo/out/deep/args.txt"]
    args = s3.get_object(Bucket=BUCKET, Key="echo/out/deep/args.txt")["Body"].read()
    assert args == b"--mode full dev"
    assert [phase.status for phase in result.phases] == ["Downloading", "Processing", "Uploading"]


def test_hyperparameter_decoding_and_arguments_follow_the_training_toolkit():
    decoded = decode_hyperparameters({"a": "1", "b": '"text"', "c": "plain text", "d": '{"x": 1}'})
    assert decoded == {"a": 1, "b": "text", "c": "plain text", "d": {"x": 1}}
    assert to_cmd_args({"lr": 0.1, "k": 3, "layers": {"b": 2, "a": 1}}) == ["-k", "3", "--layers", "a=1,b=2",
                                                                           "--lr", "0.1"]


def test_job_root_layout_matches_opt_ml(probe_job):
    _, _, root = probe_job
    expected = {"input/config/hyperparameters.json", "input/data/train/part-1.csv", "model/probe.json",
                "code/probe.py", "output/data/notes.txt"}
    present = {p.relative_to(root).as_posix() for p in Path(root).rglob("*") if p.is_file()}
    assert expected <= present
