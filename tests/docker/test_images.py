"""The locally built SageMaker images (scripts/docker/build-images.sh) work as jobs need.

Needs a Docker engine and the images: run scripts/docker/build-images.sh first (it starts
the engine through setup-engine.sh), then `pytest -m docker tests/docker`.
Everything talks to containers over loopback only (ports published on 127.0.0.1).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]


def _load_images_module():
    spec = importlib.util.spec_from_file_location("drydock_docker_images", REPO / "scripts" / "docker" / "images.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


images = _load_images_module()
XGB = images.XGBOOST_IMAGE
SKL = images.SKLEARN_IMAGE


def docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module", autouse=True)
def engine_and_images():
    if shutil.which("docker") is None:
        pytest.fail("no docker client on PATH: run scripts/docker/setup-engine.sh")
    missing = images.missing_images()  # raises DockerEngineError (naming setup-engine.sh) if no engine
    if missing:
        pytest.fail(f"images missing: {missing}; run {images.BUILD_SCRIPT}")


def test_required_images_exist_and_aliases_match():
    for uri in images.REQUIRED_IMAGES:
        images.check_image(uri)
    for alias, uri in images.ALIASES.items():
        ids = {docker("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip() for ref in (alias, uri)}
        assert len(ids) == 1, f"{alias} and {uri} are different images: {ids}"


def test_xgboost_imports_in_container():
    script = (
        "import sys, numpy as np, pandas, sklearn, xgboost, sagemaker_training\n"
        "d = xgboost.DMatrix(np.arange(20.0).reshape(10, 2), label=[0, 1] * 5)\n"
        "b = xgboost.train({'objective': 'binary:logistic'}, d, 3)\n"
        "print(xgboost.__version__, sklearn.__version__, pandas.__version__, len(b.predict(d)), sys.executable)\n"
    )
    out = docker("run", "--rm", "--network", "none", XGB, "python3", "-c", script).stdout.split()
    assert out[0].startswith("2."), out
    assert out[1].startswith("1.2."), out
    assert out[3] == "10"
    assert out[4].startswith("/opt/venv/"), out
    tools = docker("run", "--rm", "--network", "none", XGB, "sh", "-c", "command -v train; command -v serve").stdout.split()
    assert len(tools) == 2, tools


def test_sklearn_image_has_sklearn_on_python3():
    out = docker(
        "run", "--rm", "--network", "none", SKL, "python3", "-c", "import sklearn, pandas; print(sklearn.__version__)"
    ).stdout.strip()
    assert out.startswith("1.2."), out


TRAIN = textwrap.dedent(
    """
    import numpy as np, xgboost as xgb
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3)).astype("float32")
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3}, xgb.DMatrix(X, label=y), 20)
    booster.save_model("/opt/ml/model/xgboost-model")
    print("saved")
    """
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A tiny XGBoost model trained inside the image, as a training job would write it."""
    d = tmp_path_factory.mktemp("model")
    d.chmod(0o777)
    out = docker("run", "--rm", "--network", "none", "-v", f"{d}:/opt/ml/model", XGB, "python3", "-c", TRAIN)
    assert "saved" in out.stdout
    assert (d / "xgboost-model").is_file()
    return d


class Server:
    def __init__(self, name: str, port: int):
        self.name, self.port = name, port

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url(path), timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def post(self, path: str, body: bytes, content_type: str, accept: str | None = None) -> tuple[int, bytes, str]:
        headers = {"Content-Type": content_type}
        if accept:
            headers["Accept"] = accept
        req = urllib.request.Request(self.url(path), data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read(), r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers.get("Content-Type", "")


def _start_serve(model: Path, *extra: str) -> Server:
    name = f"drydock-test-serve-{uuid.uuid4().hex[:8]}"
    docker("run", "-d", "--name", name, "-p", "127.0.0.1::8080", "-v", f"{model}:/opt/ml/model:ro", *extra, XGB, "serve")
    port = int(docker("port", name, "8080/tcp").stdout.strip().splitlines()[0].rsplit(":", 1)[1])
    server = Server(name, port)
    deadline = time.monotonic() + 60
    while True:
        try:
            if server.get("/ping")[0] == 200:
                return server
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        state = docker("inspect", "--format", "{{.State.Running}}", name, check=False).stdout.strip()
        if state != "true" or time.monotonic() > deadline:
            logs = docker("logs", name, check=False)
            docker("rm", "-f", name, check=False)
            raise AssertionError(f"serve did not answer /ping (running={state}):\n{logs.stdout}\n{logs.stderr}")
        time.sleep(0.2)


def _stop(server: Server) -> float:
    t0 = time.monotonic()
    docker("stop", "-t", "10", server.name, check=False)
    took = time.monotonic() - t0
    docker("rm", "-f", server.name, check=False)
    return took


def test_serve_answers_ping_and_invocations(model_dir):
    server = _start_serve(model_dir)
    try:
        assert server.get("/ping") == (200, b"")

        status, body, ctype = server.post("/invocations", b"2,2,0\n-2,-2,0\n", "text/csv")
        assert status == 200, body
        assert ctype.startswith("text/csv")
        probs = [float(x) for x in body.decode().split()]
        assert len(probs) == 2
        assert all(0.0 <= p <= 1.0 for p in probs)
        assert probs[0] > 0.8 and probs[1] < 0.2, probs

        status, body, ctype = server.post(
            "/invocations", json.dumps({"instances": [[2, 2, 0]]}).encode(), "application/json", "application/json"
        )
        assert status == 200 and ctype.startswith("application/json"), body
        assert json.loads(body)["predictions"][0] > 0.8

        assert server.post("/invocations", b"x", "text/plain")[0] == 415
        assert server.post("/invocations", b"a,b,c\n", "text/csv")[0] == 400
        assert server.get("/nope")[0] == 404
    finally:
        took = _stop(server)
    # serve handles SIGTERM as PID 1: `docker stop` must not wait for its 10 s SIGKILL timeout.
    assert took < 5, f"docker stop took {took:.1f} s"


def test_serve_uses_user_inference_script(model_dir, tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "inference.py").write_text(
        textwrap.dedent(
            """
            import json, os
            import xgboost as xgb

            def model_fn(model_dir):
                b = xgb.Booster()
                b.load_model(os.path.join(model_dir, "xgboost-model"))
                return b

            def input_fn(body, content_type):
                assert isinstance(body, str) and content_type == "application/json"
                return xgb.DMatrix(json.loads(body)["rows"])

            def predict_fn(data, model):
                return model.predict(data)

            def output_fn(prediction, accept):
                return json.dumps({"label": [int(p > 0.5) for p in prediction]}), "application/json"
            """
        )
    )
    server = _start_serve(
        model_dir, "-v", f"{code}:/opt/ml/code:ro", "-e", "SAGEMAKER_PROGRAM=inference.py",
        "-e", "SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/code",
    )
    try:
        status, body, ctype = server.post("/invocations", b'{"rows": [[2, 2, 0], [-2, -2, 0]]}', "application/json")
        assert status == 200, body
        assert ctype == "application/json"
        assert json.loads(body) == {"label": [1, 0]}
    finally:
        _stop(server)


def test_train_toolkit_runs_a_script_mode_job(tmp_path):
    """`train` (sagemaker-training) runs the entry point with SM_* and --hyperparameters.

    The toolkit waits, forever, for every host in resourceconfig.json to resolve, so the
    container's hostname must be algo-1 (compose sets it; a plain `docker run` must pass
    --hostname) and the container needs a network (with --network none it never resolves).
    """
    ml = tmp_path / "ml"
    for sub in ("input/config", "input/data/train", "code", "model", "output"):
        (ml / sub).mkdir(parents=True)
    (ml / "output").chmod(0o777)
    (ml / "model").chmod(0o777)
    rows = [f"{int(i % 3 == 0)},{i % 3},{i % 7}" for i in range(300)]
    (ml / "input/data/train/train.csv").write_text("\n".join(rows) + "\n")
    hyper = {"sagemaker_program": "train.py", "sagemaker_submit_directory": "/opt/ml/code", "num_round": 5}
    (ml / "input/config/hyperparameters.json").write_text(json.dumps({k: json.dumps(v) for k, v in hyper.items()}))
    (ml / "input/config/inputdataconfig.json").write_text(json.dumps({"train": {"TrainingInputMode": "File"}}))
    (ml / "input/config/resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
    (ml / "code/train.py").write_text(
        textwrap.dedent(
            """
            import argparse, os
            import pandas as pd, xgboost as xgb
            p = argparse.ArgumentParser()
            p.add_argument("--num_round", type=int)
            args = p.parse_args()
            df = pd.read_csv(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv"), header=None)
            b = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(df.iloc[:, 1:], label=df[0]), args.num_round)
            b.save_model(os.path.join(os.environ["SM_MODEL_DIR"], "xgboost-model"))
            print("rounds", args.num_round)
            """
        )
    )
    mounts = [a for sub in ("input", "code", "model", "output") for a in ("-v", f"{ml / sub}:/opt/ml/{sub}")]
    # Not --network none: with no network, even the container's own hostname does not resolve.
    name = f"drydock-test-train-{uuid.uuid4().hex[:8]}"
    try:
        proc = docker("run", "--rm", "--name", name, "--hostname", "algo-1", *mounts, XGB, "train", timeout=120)
    finally:
        docker("rm", "-f", name, check=False)
    assert "rounds 5" in proc.stdout + proc.stderr
    assert (ml / "model/xgboost-model").stat().st_size > 0
    assert (ml / "output/success").exists()
