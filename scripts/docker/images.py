"""The Docker images drydock's Docker backend needs, and a check that they are there.

Nothing can be pulled on drydock's machines (no Docker Hub, no ECR), so every image a
job runs in is built locally by ``scripts/docker/build-images.sh``, tagged with the
exact URI the SageMaker SDK v2 computes (us-east-1, ``instance_type="local"``). The job
runtime calls :func:`check_image` before it starts a container, so a missing image
fails at once with the command that builds it, instead of as a pull error from ECR.

Standard library only; importable from anywhere::

    from scripts.docker.images import check_image          # repo root on sys.path
    check_image("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1")

Keep REQUIRED_IMAGES in step with build-images.sh.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

__all__ = [
    "BUILD_SCRIPT",
    "SETUP_SCRIPT",
    "BASE_IMAGE",
    "SKLEARN_IMAGE",
    "XGBOOST_IMAGE",
    "REQUIRED_IMAGES",
    "ALIASES",
    "DockerImageError",
    "ImageNotFoundError",
    "DockerEngineError",
    "image_exists",
    "check_image",
    "missing_images",
]

_HERE = Path(__file__).resolve().parent
BUILD_SCRIPT = "scripts/docker/build-images.sh"
SETUP_SCRIPT = "scripts/docker/setup-engine.sh"
BUILD_SCRIPT_PATH = _HERE / "build-images.sh"
SETUP_SCRIPT_PATH = _HERE / "setup-engine.sh"

BASE_IMAGE = "drydock/base:bookworm"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"

# image URI -> the command that builds it
REQUIRED_IMAGES: dict[str, str] = {
    BASE_IMAGE: f"{BUILD_SCRIPT} base",
    SKLEARN_IMAGE: f"{BUILD_SCRIPT} sklearn",
    XGBOOST_IMAGE: f"{BUILD_SCRIPT} xgboost",
    "drydock/sklearn:latest": f"{BUILD_SCRIPT} sklearn",
    "drydock/xgboost:latest": f"{BUILD_SCRIPT} xgboost",
}

# short alias -> the SageMaker URI it names
ALIASES: dict[str, str] = {
    "drydock/sklearn:latest": SKLEARN_IMAGE,
    "drydock/xgboost:latest": XGBOOST_IMAGE,
}


class DockerImageError(RuntimeError):
    """An image a job needs cannot be used."""


class ImageNotFoundError(DockerImageError):
    """The engine answers but does not have the image."""

    def __init__(self, uri: str, command: str | None):
        self.uri = uri
        self.command = command
        if command:
            how = (
                f"Build it with:\n    {command}\n"
                f"(or {BUILD_SCRIPT} for all of drydock's images; it starts the engine too)."
            )
        else:
            how = (
                f"drydock does not build this image ({BUILD_SCRIPT} builds only: "
                f"{', '.join(REQUIRED_IMAGES)}). Nothing can be pulled here, so build it locally "
                f"and tag it '{uri}', or use one of drydock's images."
            )
        super().__init__(f"Docker image '{uri}' is not present locally and cannot be pulled. {how}")


class DockerEngineError(DockerImageError):
    """No docker client, or no engine answering."""


def _docker(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("docker")
    if exe is None:
        raise DockerEngineError(
            f"no 'docker' command on PATH: run {SETUP_SCRIPT} (installs and starts the engine), "
            f"then {BUILD_SCRIPT}."
        )
    try:
        return subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise DockerEngineError(
            f"'docker {' '.join(args)}' did not answer within {timeout:.0f} s: is the engine up? "
            f"Run {SETUP_SCRIPT}."
        ) from None


def image_exists(uri: str) -> bool:
    """True if the local engine has ``uri``; DockerEngineError if no engine answers."""
    # The same query the SageMaker SDK makes before deciding to pull: empty output = missing.
    proc = _docker("images", "-q", uri)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise DockerEngineError(
            f"cannot ask the Docker engine about '{uri}': {detail[-1] if detail else f'exit {proc.returncode}'}. "
            f"Start it with {SETUP_SCRIPT}, then build the images with {BUILD_SCRIPT}."
        )
    return bool(proc.stdout.strip())


def check_image(uri: str) -> None:
    """Raise ImageNotFoundError (naming the image and the build command) if ``uri`` is missing.

    Raises DockerEngineError when there is no docker client or no engine answering.
    """
    if not image_exists(uri):
        raise ImageNotFoundError(uri, REQUIRED_IMAGES.get(uri))


def missing_images(uris: list[str] | None = None) -> list[str]:
    """The URIs (default: all REQUIRED_IMAGES) the engine does not have."""
    return [u for u in (uris if uris is not None else list(REQUIRED_IMAGES)) if not image_exists(u)]


if __name__ == "__main__":  # python3 scripts/docker/images.py: report, exit 1 if any is missing
    import sys

    try:
        gone = missing_images()
    except DockerEngineError as e:
        print(e, file=sys.stderr)
        sys.exit(2)
    for u in REQUIRED_IMAGES:
        print(f"{'MISSING' if u in gone else 'ok     '} {u}")
    if gone:
        print(f"build with: {BUILD_SCRIPT}", file=sys.stderr)
    sys.exit(1 if gone else 0)
