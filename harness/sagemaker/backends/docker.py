"""Run a job's container in the local Docker engine, the job root mounted at /opt/ml, as SageMaker runs it.

The image is the request's AlgorithmSpecification.TrainingImage / AppSpecification.ImageUri; nothing can be
pulled here, so `scripts/docker/build-images.sh` builds drydock's images under the URIs the SageMaker SDK
computes, and a missing one fails the job at once with that command (`check_image`). Everything else is the
same as the `process` backend: the runtime has already downloaded inputs and written config files into the
job root, and uploads what the container leaves there. The container is named `drydock-<job>-<hex>`, has
hostname `algo-1` on a network (the sagemaker-training toolkit waits for every host in resourceconfig.json
to resolve: with no network not even its own name does), and is removed when it ends, is stopped or times
out (`docker rm -f`). Script-mode training runs the image's `train` (the toolkit) when the image has one,
as the SDK's local mode does; otherwise the runtime's `python3 /opt/ml/code/<program> --hp value ...`.
https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-dockerfile.html
"""
from __future__ import annotations

import codecs
import importlib.util
import json
import secrets
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any, Callable, Iterable

from harness.sagemaker.backends import OPT_ML, JobSpec, ProcessResult

HOSTNAME = "algo-1"  # resourceconfig.json's current_host (harness.sagemaker.container.CURRENT_HOST)
NETWORK = "bridge"
JOB_LABEL = "org.drydock.job"
CODE_DIR = f"{OPT_ML}/code"
MODEL_DIR = f"{OPT_ML}/model"
SERVING_PORT = 8080
SERVE_LABEL = "org.drydock.serve"
IMAGES_PY = Path(__file__).resolve().parents[3] / "scripts" / "docker" / "images.py"
BUILD_SCRIPT = "scripts/docker/build-images.sh"
SETUP_SCRIPT = "scripts/docker/setup-engine.sh"
MERGE_OUTPUT = ("/bin/sh", "-c", 'exec "$@" 2>&1', "drydock")  # $0, then the command as "$@"
DOCKER_API_TIMEOUT = 120  # seconds for one engine call (create, start, remove); not the job's runtime

_toolkit_images: dict[str, bool] = {}  # image id -> has `train` on PATH; probed once per process
_toolkit_lock = threading.Lock()
_shared: Any = None
_shared_lock = threading.Lock()


class DockerBackend:
    """Backend that runs each job in a container of its image; `opt_ml` paths in the environment are /opt/ml.

    Args:
        client: a `docker.DockerClient`; by default one shared client from the environment (DOCKER_HOST or the
            local socket), the API version negotiated with the engine.
        network: the network containers join (default `bridge`); not `none`, or `train` waits forever.
        stop_grace_seconds: StopTrainingJob and MaxRuntimeInSeconds send SIGTERM, then SIGKILL after this long
            (SageMaker allows 120 seconds), as the process backend does.
        toolkit: run `train` for script-mode training: None (default) when the image has it, True always,
            False never (the script directly, as the process backend does).
        merge_output: send the command's stderr to its stdout inside the container (`/bin/sh -c 'exec "$@" 2>&1'`),
            so the log keeps the order lines were written in, as the process backend's one pipe does; the engine
            reads two pipes and may interleave them out of order, which matters for the FailureReason taken from
            the last line. Images without /bin/sh need False.
        check_image: raises when the image is missing (default: scripts/docker/images.py's `check_image`).
    """

    serving = "docker"  # a transform job's model runs as `serve` in its image (`harness.sagemaker.transform`)

    def __init__(self, client: Any = None, *, network: str = NETWORK, stop_grace_seconds: float = 120.0,
                 toolkit: bool | None = None, merge_output: bool = True,
                 check_image: Callable[[str], None] | None = None) -> None:
        self._client = client
        self.network = network
        self.stop_grace_seconds = stop_grace_seconds
        self.toolkit = toolkit
        self.merge_output = merge_output
        self._check_image = check_image
        self._running: tuple[Any, threading.Event] | None = None
        self._stopping = False

    def opt_ml_path(self, root: Path) -> str:
        return OPT_ML

    # ------------------------------------------------------------------ the container
    def container_config(self, spec: JobSpec, *, toolkit: bool = False,
                         image_entrypoint: list[str] | None = None) -> dict[str, Any]:
        """The keyword arguments of `client.containers.create` for this job (what `docker run` is given).

        Args:
            spec: the job; `spec.image` must be set.
            toolkit: run the image's `train` instead of the script (script-mode training only).
            image_entrypoint: the image's own ENTRYPOINT (Config.Entrypoint), kept where SageMaker keeps it.
        """
        entrypoint: list[str] | None
        if toolkit:  # SageMaker runs `docker run IMAGE train`; the toolkit finds the script in hyperparameters.json
            entrypoint, command, working_dir = None, ["train"], None
        elif spec.image_entrypoint:
            entrypoint, command, working_dir = None, list(spec.command), spec.working_dir
        else:
            entrypoint, command, working_dir = list(spec.command), [], spec.working_dir
        if self.merge_output:  # one pipe, as the process backend reads it: the last line is the last one written
            command = [*(image_entrypoint or [] if entrypoint is None else entrypoint), *command]
            entrypoint = list(MERGE_OUTPUT)
        config: dict[str, Any] = {
            "image": spec.image,
            "command": command,
            "name": container_name(spec.job_name),
            "hostname": HOSTNAME,
            "network_mode": self.network,
            "volumes": {str(Path(spec.root).resolve()): {"bind": OPT_ML, "mode": "rw"}},
            "environment": {**spec.environment, "PYTHONUNBUFFERED": "1"},
            "labels": {JOB_LABEL: spec.job_name},
            "init": True,  # PID 1 forwards SIGTERM: a stopped Python script ends as it does under the process backend
            "detach": True,
            "stdin_open": False,
            "tty": False,
        }
        if entrypoint is not None:
            config["entrypoint"] = entrypoint
        if working_dir:
            config["working_dir"] = working_dir
        return config

    def run(self, spec: JobSpec) -> ProcessResult:
        started_at = datetime.now(timezone.utc)

        def launch_error(message: str) -> ProcessResult:
            return ProcessResult(None, started_at, datetime.now(timezone.utc), launch_error=message)

        if not spec.image:
            return launch_error("the docker backend needs the job's image (AlgorithmSpecification.TrainingImage or "
                                "AppSpecification.ImageUri); this job names none")
        try:
            client = self.client
            image = self._image(client, spec.image)
            toolkit = self._use_toolkit(client, spec, image)
        except Exception as error:  # noqa: BLE001 - every way the engine or the image fails is the job's launch error
            return launch_error(_engine_message(error))
        import docker.errors

        config = self.container_config(spec, toolkit=toolkit,
                                       image_entrypoint=(image.attrs.get("Config") or {}).get("Entrypoint"))
        try:
            container = client.containers.create(**config)
        except docker.errors.DockerException as error:
            return launch_error(f"cannot create container {config['name']} from {spec.image}: {_explain(error)}")
        timed_out = threading.Event()
        watchdog = None
        try:
            try:
                container.start()
            except docker.errors.DockerException as error:
                return launch_error(f"cannot start container {config['name']} ({_shown(config)}): {_explain(error)}")
            self._running = (container, timed_out)
            if self._stopping:  # stop() came while the container was starting
                self._stop_soon(container, timed_out)
            if spec.max_runtime_seconds:
                watchdog = threading.Timer(spec.max_runtime_seconds, self._stop, (container, timed_out))
                watchdog.daemon = True
                watchdog.start()
            logs = list(log_events(container.logs(stream=True, follow=True, stdout=True, stderr=True)))
            exit_code = container.wait().get("StatusCode")
            return ProcessResult(exit_code, started_at, datetime.now(timezone.utc), logs, timed_out.is_set())
        finally:
            if watchdog is not None:
                watchdog.cancel()
            self._running = None
            _remove(container)

    # ------------------------------------------------------------------ stopping
    def stop(self) -> None:
        """Stop the running container as StopTrainingJob does (SIGTERM, SIGKILL after the grace period); `run`
        then reports it as `timed_out`, which the runtime turns into a Stopped job."""
        self._stopping = True
        running = self._running
        if running is not None:
            self._stop_soon(*running)

    def _stop_soon(self, container: Any, timed_out: threading.Event) -> None:
        threading.Thread(target=self._stop, args=(container, timed_out), daemon=True).start()

    def _stop(self, container: Any, timed_out: threading.Event) -> None:
        timed_out.set()
        try:
            container.stop(timeout=max(1, round(self.stop_grace_seconds)))
        except Exception:  # noqa: BLE001 - it ended or went meanwhile; rm -f follows in any case
            pass

    # ------------------------------------------------------------------ engine and image
    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = shared_client()
        return self._client

    def _image(self, client: Any, uri: str) -> Any:
        """The local image `uri`; when missing, `check_image` raises the error naming the build command."""
        import docker.errors

        try:
            return client.images.get(uri)
        except docker.errors.ImageNotFound:
            pass
        check = self._check_image
        if check is None:
            images = images_module()
            check = images.check_image if images is not None else None
        if check is not None:
            check(uri)
        raise LookupError(f"Docker image '{uri}' is not present locally and cannot be pulled. Build it with "
                          f"{BUILD_SCRIPT}, or tag a local image '{uri}'.")

    def _use_toolkit(self, client: Any, spec: JobSpec, image: Any) -> bool:
        if self.toolkit is False or script_program(spec) is None:
            return False
        return True if self.toolkit else has_toolkit(client, image)


# --- what runs ----------------------------------------------------------------------------------------------

def script_program(spec: JobSpec) -> str | None:
    """The script-mode entry point (sagemaker_program) when `spec` runs it as the toolkit would, else None."""
    try:
        raw = json.loads((Path(spec.root) / "input" / "config" / "hyperparameters.json").read_text())
        program = raw.get("sagemaker_program")
        program = json.loads(program) if isinstance(program, str) and program.startswith('"') else program
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(program, str) or len(spec.command) < 2:
        return None
    interpreter = PurePosixPath(spec.command[0]).name
    if interpreter.startswith("python") and spec.command[1] == f"{CODE_DIR}/{program}":
        return program
    return None


def has_toolkit(client: Any, image: Any) -> bool:
    """Whether `image` (a docker Image) has the sagemaker-training toolkit's `train` on PATH; probed once per
    image id, in a throwaway container with no network."""
    image_id = image.id
    with _toolkit_lock:
        if image_id in _toolkit_images:
            return _toolkit_images[image_id]
    probe = client.containers.create(image_id, ["-c", "command -v train"], entrypoint=["/bin/sh"], network_mode="none",
                                     name=f"drydock-probe-{secrets.token_hex(4)}", detach=True)
    try:
        probe.start()
        found = probe.wait(timeout=60).get("StatusCode") == 0
    except Exception:  # noqa: BLE001 - no shell, or the probe failed: run the script directly
        found = False
    finally:
        _remove(probe)
    with _toolkit_lock:
        _toolkit_images[image_id] = found
    return found


def container_name(job_name: str) -> str:
    """`drydock-<job>-<8 hex>`: unique per run, and `docker ps` shows whose it is."""
    return f"drydock-{job_name}-{secrets.token_hex(4)}"


def log_events(chunks: Iterable[bytes]) -> Iterable[dict[str, Any]]:
    """CloudWatch InputLogEvents from a container's output stream, one per line, timestamped on arrival."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    for chunk in chunks:
        pending += decoder.decode(chunk)
        *lines, pending = pending.split("\n")
        now = int(time.time() * 1000)
        for line in lines:
            yield {"timestamp": now, "message": line.rstrip("\r")}
    pending += decoder.decode(b"", final=True)
    if pending:
        yield {"timestamp": int(time.time() * 1000), "message": pending.rstrip("\r")}


def _remove(container: Any) -> None:
    try:
        container.remove(force=True)  # docker rm -f: also a container a stop left running
    except Exception:  # noqa: BLE001 - already gone, or removal in progress
        pass


def _shown(config: dict[str, Any]) -> str:
    return " ".join([*(config.get("entrypoint") or []), *config["command"]])


def _explain(error: Exception) -> str:
    explanation = getattr(error, "explanation", None)
    return str(explanation or error)


def _engine_message(error: Exception) -> str:
    if type(error).__name__ in ("ImageNotFoundError", "DockerEngineError") or isinstance(error, LookupError):
        return str(error)
    return (f"the Docker engine cannot run this job ({type(error).__name__}: {_explain(error)}). Start it with "
            f"{SETUP_SCRIPT}, then build the images with {BUILD_SCRIPT}.")


# --- serving ---------------------------------------------------------------------------------------------------

class DockerServer:
    """One serving container for an endpoint variant: `serve` in the model's image (SageMaker's `docker run IMAGE
    serve`), /opt/ml/model mounted read-only, port 8080 published on 127.0.0.1 only. A `serving.Server`.

    Args:
        files: the model and inference code, as `serving.materialize` unpacked them on this machine.
        client: a `docker.DockerClient` (default: the shared one).
        startup_seconds: how long /ping may take to answer 200 (SageMaker's health check allows minutes).
    """

    def __init__(self, files: Any, client: Any = None, *, startup_seconds: float = 120.0) -> None:
        self.files = files
        self.url = ""
        self.container: Any = None
        self._client = client
        self.startup_seconds = startup_seconds

    def container_config(self) -> dict[str, Any]:
        """The keyword arguments of `client.containers.create` (what `docker run -d` is given)."""
        files = self.files
        model_dir = Path(files.model_dir).resolve()
        volumes = {str(model_dir): {"bind": MODEL_DIR, "mode": "ro"}}
        environment = dict(files.environment)
        if files.program:
            code_dir = Path(files.code_dir).resolve() if files.code_dir else model_dir / "code"
            if code_dir.is_relative_to(model_dir):
                submit = str(PurePosixPath(MODEL_DIR) / code_dir.relative_to(model_dir).as_posix())
            else:
                volumes[str(code_dir)] = {"bind": CODE_DIR, "mode": "ro"}
                submit = CODE_DIR
            environment.update({"SAGEMAKER_PROGRAM": files.program, "SAGEMAKER_SUBMIT_DIRECTORY": submit})
        return {
            "image": files.image, "command": ["serve"], "name": f"drydock-serve-{secrets.token_hex(4)}",
            "ports": {f"{SERVING_PORT}/tcp": ("127.0.0.1", None)}, "volumes": volumes, "environment": environment,
            "labels": {SERVE_LABEL: files.image}, "network_mode": NETWORK, "detach": True, "init": True,
        }

    def start(self) -> None:
        from harness.sagemaker.serving import ModelLoadError

        client = self._client or shared_client()
        image = self.files.image
        try:
            DockerBackend(client)._image(client, image)
        except Exception as error:  # noqa: BLE001 - missing image or no engine: the variant fails its health check
            raise ModelLoadError(_engine_message(error)) from None
        config = self.container_config()
        try:
            self.container = client.containers.create(**config)
            self.container.start()
            self.container.reload()
            port = int(self.container.ports[f"{SERVING_PORT}/tcp"][0]["HostPort"])
        except Exception as error:  # noqa: BLE001
            self.stop()
            raise ModelLoadError(f"cannot start {image} (serve): {_explain(error)}") from None
        self.url = f"http://127.0.0.1:{port}"
        problem = self._wait_for_ping()
        if problem:
            self.stop()
            raise ModelLoadError(problem)

    def _wait_for_ping(self) -> str | None:
        import http.client

        deadline = time.monotonic() + self.startup_seconds
        port = int(self.url.rsplit(":", 1)[1])
        while time.monotonic() < deadline:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/ping")
                if connection.getresponse().status == 200:
                    connection.close()
                    return None
                connection.close()
            except (OSError, http.client.HTTPException):
                pass
            self.container.reload()
            if self.container.status not in ("created", "running"):
                lines = [e["message"] for e in log_events([self.container.logs(stdout=True, stderr=True)])]
                last = next((line for line in reversed(lines) if line.strip()), f"status {self.container.status}")
                return f"the serving container exited before answering /ping: {last.strip()}"
            time.sleep(0.1)
        return f"/ping did not answer 200 within {self.startup_seconds:g} s"

    def stop(self) -> None:
        container, self.container = self.container, None
        if container is None:
            return
        try:
            container.stop(timeout=5)  # serve handles SIGTERM: it ends at once
        except Exception:  # noqa: BLE001
            pass
        _remove(container)


def start_server(container: dict[str, Any], s3: Any, root: Path) -> DockerServer:
    """`Endpoints(start=...)` for Docker: materialize the Model container under `root`, then serve it in its image.
    Raises ModelLoadError."""
    from harness.sagemaker import serving

    server = DockerServer(serving.materialize(container, s3, root))
    server.start()
    return server


# --- shared resources -----------------------------------------------------------------------------------------

def shared_client() -> Any:
    """One Docker client for the process: DOCKER_HOST or the local socket, API version negotiated (the engine
    here is older than the SDK's default)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            import docker

            _shared = docker.from_env(version="auto", timeout=DOCKER_API_TIMEOUT)
        return _shared


_images: ModuleType | None = None


def images_module() -> ModuleType | None:
    """scripts/docker/images.py (the image list and `check_image`), or None outside a checkout."""
    global _images
    if _images is None and IMAGES_PY.is_file():
        spec = importlib.util.spec_from_file_location("harness_docker_images", IMAGES_PY)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules.setdefault(spec.name, module)
        spec.loader.exec_module(module)
        _images = module
    return _images


__all__ = ["DockerBackend", "DockerServer", "container_name", "has_toolkit", "log_events", "script_program",
           "shared_client", "start_server"]
