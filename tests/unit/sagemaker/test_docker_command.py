"""The docker backend's container for a job, without Docker: a fake client records what `docker run` would get.

Jobs go through the runtime from Create*Job requests, so these tests also cover what the runtime hands a
backend (image, entry point, /opt/ml environment). tests/docker/test_docker_backend.py runs the real thing.
"""
import re
import threading
from types import SimpleNamespace

import docker.errors
import pytest

from harness.sagemaker import run_processing_job, run_training_job
from harness.sagemaker.backends import BACKEND_VARIABLE, make_backend
from harness.sagemaker.backends.docker import (JOB_LABEL, MERGE_OUTPUT, DockerBackend, images_module, log_events)
from harness.sagemaker.backends.process import ProcessBackend
from job_requests import (SKLEARN_IMAGE, XGBOOST_IMAGE, channel, processing_request, s3_input, s3_uri,
                          training_request, upload_source_dir, upload_text)


class FakeContainer:
    def __init__(self, chunks=(), exit_code=0, runs_until_stopped=False):
        self.chunks, self.exit_code = list(chunks), exit_code
        self.stopped = threading.Event() if runs_until_stopped else None
        self.calls = []

    def start(self):
        self.calls.append("start")

    def logs(self, **options):
        assert options == {"stream": True, "follow": True, "stdout": True, "stderr": True}
        yield from self.chunks
        if self.stopped is not None:
            assert self.stopped.wait(10), "never stopped"

    def wait(self):
        self.calls.append("wait")
        return {"StatusCode": 143 if self.stopped is not None else self.exit_code}

    def stop(self, timeout):
        self.calls.append(("stop", timeout))
        self.stopped.set()

    def remove(self, force):
        self.calls.append(("remove", force))


class FakeClient:
    """containers.create records its arguments; images.get knows `images` {uri: Config.Entrypoint}."""

    def __init__(self, container=None, images=None):
        self.container = container or FakeContainer([b"hello\n"])
        self.images_known = images if images is not None else {XGBOOST_IMAGE: None, SKLEARN_IMAGE: None}
        self.created = []
        self.images = SimpleNamespace(get=self._image)
        self.containers = SimpleNamespace(create=self._create)

    def _image(self, uri):
        if uri not in self.images_known:
            raise docker.errors.ImageNotFound(f"No such image: {uri}")
        return SimpleNamespace(id=f"sha256:{abs(hash(uri)):x}",
                               attrs={"Config": {"Entrypoint": self.images_known[uri]}})

    def _create(self, **config):
        self.created.append(config)
        return self.container


@pytest.fixture(scope="module")
def source(s3):
    return upload_source_dir(s3, "docker-cmd", {"train.py": "print('train')\n"})


@pytest.fixture(scope="module")
def features(s3):
    upload_text(s3, "docker-cmd/features/train.csv", "1,0.5\n0,0.1\n")
    return s3_uri("docker-cmd/features")


def train(s3, work_dir, source, features, name, backend):
    request = training_request(name, [channel("train", features)], {"eta": 0.2, "num_round": 3}, source)
    return run_training_job(request, s3, backend, work_dir)


def test_script_mode_training_runs_train_in_the_image_with_opt_ml_mounted(s3, work_dir, source, features):
    client = FakeClient()
    result = train(s3, work_dir, source, features, "cmd-toolkit", DockerBackend(client, toolkit=True))
    assert result.status == "Completed", result.failure_reason
    [config] = client.created
    assert config["image"] == XGBOOST_IMAGE
    assert config["entrypoint"] == list(MERGE_OUTPUT)  # /bin/sh -c 'exec "$@" 2>&1' drydock ...
    assert config["command"] == ["train"]  # SageMaker's `docker run IMAGE train`; the image has no ENTRYPOINT
    assert "working_dir" not in config
    assert re.fullmatch(r"drydock-cmd-toolkit-[0-9a-f]{8}", config["name"])
    assert config["hostname"] == "algo-1" and config["network_mode"] == "bridge"
    assert config["volumes"] == {str((work_dir / "cmd-toolkit").resolve()): {"bind": "/opt/ml", "mode": "rw"}}
    assert config["labels"] == {JOB_LABEL: "cmd-toolkit"}
    assert config["init"] is True and config["tty"] is False
    environment = config["environment"]
    assert environment["SM_MODEL_DIR"] == "/opt/ml/model"
    assert environment["SM_CHANNEL_TRAIN"] == "/opt/ml/input/data/train"
    assert environment["SM_USER_ARGS"] == '["--eta","0.2","--num_round","3"]'
    assert environment["TRAINING_JOB_NAME"] == "cmd-toolkit"
    assert client.container.calls == ["start", "wait", ("remove", True)]
    assert result.log_lines == ["hello"]


def test_without_the_toolkit_the_script_runs_directly_in_the_code_dir(s3, work_dir, source, features):
    client = FakeClient()
    train(s3, work_dir, source, features, "cmd-direct", DockerBackend(client, toolkit=False, merge_output=False))
    [config] = client.created
    assert config["entrypoint"] == ["python3", "/opt/ml/code/train.py", "--eta", "0.2", "--num_round", "3"]
    assert config["command"] == []
    assert config["working_dir"] == "/opt/ml/code"


def test_processing_entrypoint_and_arguments(s3, work_dir):
    code = upload_text(s3, "docker-cmd/code/prep.py", "print('prep')\n")
    client = FakeClient()
    backend = DockerBackend(client)
    request = processing_request("cmd-prep", code, arguments=["--split", "0.2"], environment={"MODE": "full"})
    assert run_processing_job(request, s3, backend, work_dir).status == "Completed"
    [config] = client.created
    assert config["image"] == SKLEARN_IMAGE
    assert config["entrypoint"] == list(MERGE_OUTPUT)
    assert config["command"] == ["python3", "/opt/ml/processing/input/code/prep.py", "--split", "0.2"]
    assert config["environment"] == {"MODE": "full", "PYTHONUNBUFFERED": "1"}
    assert config["hostname"] == "algo-1"


def test_arguments_without_entrypoint_go_to_the_images_own_entrypoint(s3, work_dir):
    code = upload_text(s3, "docker-cmd/code/unused.py", "")
    image = "example.com/tool:1"
    request = processing_request("cmd-args", code, arguments=["--fast"], image=image)
    del request["AppSpecification"]["ContainerEntrypoint"]
    for merge, expected in ((True, {"entrypoint": list(MERGE_OUTPUT), "command": ["/usr/bin/tool", "--fast"]}),
                            (False, {"command": ["--fast"]})):
        client = FakeClient(images={image: ["/usr/bin/tool"]})
        request["ProcessingJobName"] = f"cmd-args-{merge}".lower()
        run_processing_job(request, s3, DockerBackend(client, merge_output=merge), work_dir)
        [config] = client.created
        assert {k: config[k] for k in ("entrypoint", "command") if k in config} == expected


def test_non_zero_exit_fails_with_the_last_line_and_removes_the_container(s3, work_dir):
    code = upload_text(s3, "docker-cmd/code/fails.py", "")
    container = FakeContainer([b"step 1\nTraceback (most", b" recent call last):\nValueError: b", b"ad\n"], 1)
    result = run_processing_job(processing_request("cmd-fails", code), s3, DockerBackend(FakeClient(container)),
                                work_dir)
    assert (result.status, result.exit_code) == ("Failed", 1)
    assert result.failure_reason == "AlgorithmError: ValueError: bad"
    assert result.log_lines == ["step 1", "Traceback (most recent call last):", "ValueError: bad"]
    assert container.calls[-1] == ("remove", True)


def test_missing_image_fails_naming_the_image_and_the_build_script(s3, work_dir, monkeypatch):
    images = images_module()
    monkeypatch.setattr(images, "image_exists", lambda uri: False)  # what `docker images -q` says for it
    code = upload_text(s3, "docker-cmd/code/never.py", "")
    client = FakeClient(images={})
    result = run_processing_job(processing_request("cmd-no-image", code), s3, DockerBackend(client), work_dir)
    assert result.status == "Failed"
    assert result.failure_reason.startswith(f"ClientError: Docker image '{SKLEARN_IMAGE}' is not present locally")
    assert "scripts/docker/build-images.sh sklearn" in result.failure_reason
    assert client.created == []


def test_engine_not_answering_names_the_setup_script(s3, work_dir, monkeypatch):
    import harness.sagemaker.backends.docker as backend_module

    def no_engine():
        raise docker.errors.DockerException("Error while fetching server API version: connection refused")

    monkeypatch.setattr(backend_module, "shared_client", no_engine)
    code = upload_text(s3, "docker-cmd/code/never2.py", "")
    result = run_processing_job(processing_request("cmd-no-engine", code), s3, DockerBackend(), work_dir)
    assert result.status == "Failed"
    assert "connection refused" in result.failure_reason
    assert "scripts/docker/setup-engine.sh" in result.failure_reason


def test_max_runtime_stops_then_removes(s3, work_dir):
    code = upload_text(s3, "docker-cmd/code/sleeps.py", "")
    container = FakeContainer([b"sleeping\n"], runs_until_stopped=True)
    request = processing_request("cmd-sleeps", code, max_runtime=1)
    result = run_processing_job(request, s3, DockerBackend(FakeClient(container), stop_grace_seconds=5), work_dir)
    assert result.status == "Stopped"
    assert container.calls == ["start", ("stop", 5), "wait", ("remove", True)]


def test_stop_before_the_container_starts_stops_it_at_once(s3, work_dir):
    code = upload_text(s3, "docker-cmd/code/stopped.py", "")
    container = FakeContainer(runs_until_stopped=True)
    backend = DockerBackend(FakeClient(container), stop_grace_seconds=3)
    backend.stop()  # StopProcessingJob while the inputs were downloading
    result = run_processing_job(processing_request("cmd-stopped", code), s3, backend, work_dir)
    assert result.status == "Stopped"
    assert ("stop", 3) in container.calls and container.calls[-1] == ("remove", True)


def test_log_events_split_lines_across_chunks_and_utf8():
    snowman = "☃".encode()
    events = list(log_events([b"a\r\nb", snowman[:1], snowman[1:] + b"\n", b"tail"]))
    assert [e["message"] for e in events] == ["a", "b☃", "tail"]
    assert all(isinstance(e["timestamp"], int) for e in events)


def test_backend_chosen_by_name_or_drydock_backend(monkeypatch, s3, work_dir):
    monkeypatch.delenv(BACKEND_VARIABLE, raising=False)
    assert isinstance(make_backend(), ProcessBackend)
    monkeypatch.setenv(BACKEND_VARIABLE, "docker")
    assert isinstance(make_backend(), DockerBackend)
    assert isinstance(make_backend("process"), ProcessBackend)  # per call, whatever the process says
    with pytest.raises(ValueError, match="unknown backend 'podman'"):
        make_backend("podman")
    monkeypatch.setenv(BACKEND_VARIABLE, "podman")
    code = upload_text(s3, "docker-cmd/code/any.py", "")
    request = processing_request("cmd-bad-backend", code, inputs=[s3_input("in", code, "/opt/ml/processing/in")])
    result = run_processing_job(request, s3, make_backend(), work_dir)
    assert result.status == "Failed"
    assert result.failure_reason == ("ClientError: DRYDOCK_BACKEND='podman' names an unknown backend 'podman': "
                                     "choose one of process, docker")


def test_serving_container_mounts_the_model_read_only_and_publishes_8080_on_loopback(tmp_path):
    from harness.sagemaker.backends.docker import DockerServer
    from harness.sagemaker.serving import ModelFiles

    model, code = tmp_path / "model", tmp_path / "code"
    model.mkdir()
    code.mkdir()
    files = ModelFiles(model, XGBOOST_IMAGE, {"SAGEMAKER_PROGRAM": "inference.py",
                                              "SAGEMAKER_SUBMIT_DIRECTORY": "s3://bucket/code/sourcedir.tar.gz",
                                              "MODEL_SERVER_WORKERS": "1"}, code, "inference.py")
    config = DockerServer(files).container_config()
    assert (config["image"], config["command"]) == (XGBOOST_IMAGE, ["serve"])  # SageMaker's `docker run IMAGE serve`
    assert config["ports"] == {"8080/tcp": ("127.0.0.1", None)}
    assert config["volumes"] == {str(model): {"bind": "/opt/ml/model", "mode": "ro"},
                                 str(code): {"bind": "/opt/ml/code", "mode": "ro"}}
    assert config["environment"] == {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/code",
                                     "MODEL_SERVER_WORKERS": "1"}
    assert re.fullmatch(r"drydock-serve-[0-9a-f]{8}", config["name"])
    repacked = DockerServer(ModelFiles(model, XGBOOST_IMAGE, {}, model / "code", "inference.py")).container_config()
    assert list(repacked["volumes"]) == [str(model)]
    assert repacked["environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
