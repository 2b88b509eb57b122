"""How jobs fail: refused requests, missing data, scripts that raise or write /opt/ml/output/failure, timeouts."""
import pytest
from botocore.exceptions import ClientError

from harness.sagemaker import ProcessBackend, run_processing_job, run_training_job
from job_requests import (PIPELINE_SCRIPTS, channel, processing_request, s3_input, s3_output, s3_uri,
                          training_request, upload_source_dir, upload_text)

RAISES = '''
def load():
    raise ValueError("label column has 3 classes, expected 2")

print("starting")
load()
'''

WRITES_FAILURE = '''
import sys
with open("/opt/ml/output/failure", "w") as failure:
    failure.write("DataError: train channel is empty after filtering")
print("a last line that is not the reason", file=sys.stderr)
sys.exit(2)
'''


def train_with(s3, work_dir, job_name, source, channels=None, **request_options):
    upload_text(s3, f"{job_name}/data/rows.csv", "1,0.5\n0,0.1\n")
    request = training_request(
        job_name, channels or [channel("train", s3_uri(f"{job_name}/data"))], {"epochs": 1},
        upload_source_dir(s3, job_name, {"train.py": source}), **request_options)
    return run_training_job(request, s3, ProcessBackend(), work_dir)


def test_empty_channel_fails_before_running_and_names_channel_and_uri(s3, work_dir):
    upload_text(s3, "empty-channel/train/rows.csv", "1,2\n")
    result = train_with(s3, work_dir, "empty-channel", "print('should not run')", channels=[
        channel("train", s3_uri("empty-channel/train")),
        channel("validation", s3_uri("empty-channel/validation")),
    ])
    assert result.status == "Failed"
    assert result.failure_reason.startswith("ClientError: ")
    assert '"validation"' in result.failure_reason
    assert s3_uri("empty-channel/validation") in result.failure_reason
    assert result.logs == [] and [phase.status for phase in result.phases] == ["Downloading"]
    assert result.model_artifacts is None


def test_script_that_raises_fails_with_the_exception_line_and_keeps_the_log(s3, work_dir):
    result = train_with(s3, work_dir, "raises", RAISES)
    assert result.status == "Failed" and result.exit_code == 1
    assert result.failure_reason == "AlgorithmError: ValueError: label column has 3 classes, expected 2"
    assert result.log_lines[0] == "starting"
    assert any(line.startswith("Traceback") for line in result.log_lines)
    assert result.model_artifacts is None


def test_failure_file_is_the_failure_reason(s3, work_dir):
    result = train_with(s3, work_dir, "failure-file", WRITES_FAILURE)
    assert result.status == "Failed" and result.exit_code == 2
    assert result.failure_reason == "AlgorithmError: DataError: train channel is empty after filtering"


def test_train_script_reports_its_own_error_through_the_failure_file(s3, work_dir):
    upload_text(s3, "train-no-validation/data/rows.csv", "1,0.5\n0,0.1\n")
    request = training_request(
        "train-no-validation", [channel("train", s3_uri("train-no-validation/data"))], {"num_round": 2},
        upload_source_dir(s3, "train-no-validation", {"train.py": (PIPELINE_SCRIPTS / "train.py").read_text()}))
    result = run_training_job(request, s3, ProcessBackend(), work_dir)
    assert result.status == "Failed" and result.exit_code == 255
    assert result.failure_reason == ("AlgorithmError: ValueError: no validation channel: "
                                     "add a 'validation' input to the estimator")
    assert any("Exception during training" in line for line in result.log_lines)


def test_processing_script_that_raises_fails_with_the_exception_line(s3, work_dir):
    code = upload_text(s3, "proc-raises/code/job.py", "raise RuntimeError('no rows for 2024-06')\n")
    result = run_processing_job(processing_request("proc-raises", code), s3, ProcessBackend(), work_dir)
    assert result.status == "Failed"
    assert result.failure_reason == "AlgorithmError: RuntimeError: no rows for 2024-06"
    assert result.output_artifacts == {}


def test_processing_input_with_no_objects_fails_naming_the_input(s3, work_dir):
    code = upload_text(s3, "proc-empty/code/job.py", "print('should not run')\n")
    request = processing_request("proc-empty", code,
                                 inputs=[s3_input("raw", s3_uri("proc-empty/nothing"), "/opt/ml/processing/input")])
    result = run_processing_job(request, s3, ProcessBackend(), work_dir)
    assert result.status == "Failed"
    assert '"raw"' in result.failure_reason and s3_uri("proc-empty/nothing") in result.failure_reason
    assert result.logs == []


def test_missing_buckets_fail_the_job_instead_of_raising(s3, work_dir):
    code = upload_text(s3, "no-bucket/code/job.py", "open('/opt/ml/processing/out/x.txt', 'w').write('x')\n")
    reading = run_processing_job(processing_request(
        "no-input-bucket", code, inputs=[s3_input("raw", "s3://no-such-bucket/raw", "/opt/ml/processing/input")],
    ), s3, ProcessBackend(), work_dir)
    writing = run_processing_job(processing_request(
        "no-output-bucket", code, outputs=[s3_output("out", "s3://no-such-bucket/out", "/opt/ml/processing/out")],
    ), s3, ProcessBackend(), work_dir)
    assert reading.status == "Failed"
    assert reading.failure_reason.startswith("ClientError: Data download failed for s3://no-such-bucket/raw")
    assert writing.status == "Failed"
    assert writing.failure_reason.startswith("ClientError: Output upload failed for s3://no-such-bucket/out")
    assert [phase.status for phase in writing.phases] == ["Downloading", "Processing", "Uploading"]


def test_job_over_max_runtime_is_stopped(s3, work_dir):
    result = train_with(s3, work_dir, "too-slow", "import time\nprint('working', flush=True)\ntime.sleep(60)\n",
                        max_runtime=1)
    assert (result.status, result.secondary_status) == ("Stopped", "MaxRuntimeExceeded")
    assert result.failure_reason is None
    assert result.log_lines == ["working"]
    assert result.seconds_in("Training") < 10
    assert result.model_artifacts.endswith("/too-slow/output/model.tar.gz")  # SageMaker uploads what there is


def test_job_ignoring_sigterm_is_killed_after_the_grace_period(s3, work_dir):
    code = upload_text(s3, "stubborn/code/job.py", "import signal, time\n"
                       "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ignoring', flush=True)\ntime.sleep(60)\n")
    request = processing_request("stubborn", code, max_runtime=1)
    result = run_processing_job(request, s3, ProcessBackend(stop_grace_seconds=0.5), work_dir)
    assert result.status == "Stopped" and result.log_lines == ["ignoring"]
    assert result.seconds_in("Processing") < 10


def test_non_python_entry_point_is_refused_by_the_process_backend(s3, work_dir):
    code = upload_text(s3, "shell/code/run.sh", "echo hi\n")
    request = processing_request("shell", code)
    request["AppSpecification"]["ContainerEntrypoint"] = ["/bin/bash", "/opt/ml/processing/input/code/run.sh"]
    result = run_processing_job(request, s3, ProcessBackend(), work_dir)
    assert result.status == "Failed"
    assert result.failure_reason.startswith("ClientError: the process backend runs Python script entry points")


def test_request_aws_would_refuse_raises_validation_exception(s3, work_dir):
    request = training_request("bad-request", [channel("train", s3_uri("x"))], {}, s3_uri("x/sourcedir.tar.gz"))
    request["HyperParameters"]["max_depth"] = 4  # SageMaker takes strings only
    del request["RoleArn"]
    with pytest.raises(ClientError) as raised:
        run_training_job(request, s3, ProcessBackend(), work_dir)
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "RoleArn" in error["Message"] and "HyperParameters.max_depth" in error["Message"]
    assert not (work_dir / "bad-request").exists()


def test_processing_local_path_outside_opt_ml_processing_is_refused(s3, work_dir):
    request = processing_request("bad-path", s3_uri("x/job.py"),
                                 inputs=[s3_input("raw", s3_uri("x"), "/opt/ml/input/data")])
    with pytest.raises(ClientError) as raised:
        run_processing_job(request, s3, ProcessBackend(), work_dir)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "/opt/ml/processing/" in raised.value.response["Error"]["Message"]


def test_reusing_a_job_name_is_resource_in_use(s3, work_dir):
    code = upload_text(s3, "twice/code/job.py", "print('once')\n")
    assert run_processing_job(processing_request("twice", code), s3, ProcessBackend(), work_dir).status == "Completed"
    with pytest.raises(ClientError) as raised:
        run_processing_job(processing_request("twice", code), s3, ProcessBackend(), work_dir)
    assert raised.value.response["Error"]["Code"] == "ResourceInUse"
