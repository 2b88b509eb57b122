"""scripts/docker/images.py: check_image names the missing image and the build script.

No Docker needed: the `docker` call is mocked.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest

REPO = Path(__file__).resolve().parents[2]
IMAGES_PY = REPO / "scripts" / "docker" / "images.py"


@pytest.fixture(scope="module")
def images():
    spec = importlib.util.spec_from_file_location("drydock_docker_images", IMAGES_PY)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _completed(returncode: int = 0, stdout: str = "", stderr: str = ""):
    return subprocess.CompletedProcess(["docker"], returncode, stdout, stderr)


@pytest.fixture
def docker_on_path(images):
    with mock.patch.object(images.shutil, "which", return_value="/usr/bin/docker"):
        yield


def test_required_images_are_the_sdk_uris_and_built_by_the_script(images):
    assert images.REQUIRED_IMAGES[
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    ].startswith("scripts/docker/build-images.sh")
    assert images.REQUIRED_IMAGES[
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    ].startswith("scripts/docker/build-images.sh")
    assert {"drydock/base:bookworm", "drydock/sklearn:latest", "drydock/xgboost:latest"} <= set(images.REQUIRED_IMAGES)
    assert images.BUILD_SCRIPT_PATH.is_file()
    assert images.SETUP_SCRIPT_PATH.is_file()


def test_check_image_on_bogus_uri_names_image_and_build_script(images, docker_on_path):
    bogus = "example.invalid/no-such-image:0"
    with mock.patch.object(images.subprocess, "run", return_value=_completed(0, "")) as run:
        with pytest.raises(images.ImageNotFoundError) as err:
            images.check_image(bogus)
    msg = str(err.value)
    assert bogus in msg
    assert "scripts/docker/build-images.sh" in msg
    assert isinstance(err.value, RuntimeError)
    argv = run.call_args.args[0]
    assert argv[1:] == ["images", "-q", bogus]


def test_check_image_on_missing_known_uri_gives_its_build_command(images, docker_on_path):
    uri = images.XGBOOST_IMAGE
    with mock.patch.object(images.subprocess, "run", return_value=_completed(0, "\n")):
        with pytest.raises(images.ImageNotFoundError) as err:
            images.check_image(uri)
    assert uri in str(err.value)
    assert "scripts/docker/build-images.sh xgboost" in str(err.value)
    assert err.value.command == "scripts/docker/build-images.sh xgboost"


def test_check_image_present_returns_none(images, docker_on_path):
    with mock.patch.object(images.subprocess, "run", return_value=_completed(0, "sha256:0123abcd\n")):
        assert images.check_image(images.SKLEARN_IMAGE) is None


def test_engine_down_points_at_setup_script(images, docker_on_path):
    down = _completed(1, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.")
    with mock.patch.object(images.subprocess, "run", return_value=down):
        with pytest.raises(images.DockerEngineError) as err:
            images.check_image(images.XGBOOST_IMAGE)
    assert "scripts/docker/setup-engine.sh" in str(err.value)
    assert "Cannot connect" in str(err.value)


def test_no_docker_client(images):
    with mock.patch.object(images.shutil, "which", return_value=None):
        with pytest.raises(images.DockerEngineError, match="setup-engine.sh"):
            images.check_image(images.XGBOOST_IMAGE)


def test_missing_images_lists_only_absent(images, docker_on_path):
    def fake_run(argv, **_kw):
        return _completed(0, "" if argv[-1] == images.BASE_IMAGE else "sha256:1\n")

    with mock.patch.object(images.subprocess, "run", side_effect=fake_run):
        assert images.missing_images() == [images.BASE_IMAGE]
