"""The shim maps /opt/ml onto a job root for every common way a script reaches files, and nothing else."""
import json
import subprocess
import sys

from harness.sagemaker.backends import opt_ml_shim

SCRIPT = '''
import glob, json, os, pathlib, shutil, sys, tarfile

os.makedirs("/opt/ml/processing/out/deep", exist_ok=True)
pathlib.Path("/opt/ml/processing/out/deep/a.txt").write_text("A")
shutil.copy("/opt/ml/processing/out/deep/a.txt", "/opt/ml/processing/out/b.txt")
with tarfile.open("/opt/ml/processing/out/bundle.tar.gz", "w:gz") as tar:
    tar.add("/opt/ml/processing/out/b.txt", arcname="b.txt")
os.rename("/opt/ml/processing/out/b.txt", "/opt/ml/processing/out/c.txt")
report = {
    "argv": sys.argv,
    "script_dir_on_path": sys.path[0],
    "glob": sorted(glob.glob("/opt/ml/processing/out/**/*.txt", recursive=True)),
    "walk": sorted(f for _, _, files in os.walk("/opt/ml/processing/out") for f in files),
    "exists": os.path.exists("/opt/ml/processing/out/c.txt"),
    "pathlib_glob": sorted(p.name for p in pathlib.Path("/opt/ml/processing/out").rglob("*")),
    "tar_members": tarfile.open("/opt/ml/processing/out/bundle.tar.gz").getnames(),
    "bytes_listdir": sorted(name.decode() for name in os.listdir(b"/opt/ml/processing/out")),
    "fspath": os.fspath(pathlib.PurePosixPath("/opt/ml/model/m.bin")),
}
print(json.dumps(report))
'''


def run_shim(root, script_path, *args):
    completed = subprocess.run([sys.executable, opt_ml_shim.__file__, str(root), *script_path, *args],
                               capture_output=True, text=True, check=True)
    return json.loads(completed.stdout)


def test_file_apis_see_the_job_root_as_opt_ml(tmp_path):
    root = tmp_path / "job"
    code = root / "processing" / "input" / "code"
    code.mkdir(parents=True)
    (code / "probe.py").write_text(SCRIPT)

    report = run_shim(root, ["/opt/ml/processing/input/code/probe.py"], "--flag", "1")

    assert report["argv"] == [str(code / "probe.py"), "--flag", "1"]  # like __file__: importable host paths
    assert report["script_dir_on_path"] == str(code)
    assert [p.rsplit("/", 1)[-1] for p in report["glob"]] == ["c.txt", "a.txt"]
    assert report["walk"] == ["a.txt", "bundle.tar.gz", "c.txt"]
    assert report["exists"] is True
    assert report["pathlib_glob"] == ["a.txt", "bundle.tar.gz", "c.txt", "deep"]
    assert report["tar_members"] == ["b.txt"]
    assert report["bytes_listdir"] == ["bundle.tar.gz", "c.txt", "deep"]
    assert report["fspath"] == f"{root}/model/m.bin"
    assert (root / "processing" / "out" / "deep" / "a.txt").read_text() == "A"


def test_mapper_only_rewrites_the_opt_ml_prefix():
    to_host = opt_ml_shim.path_mapper("/jobs/j1")
    assert to_host("/opt/ml") == "/jobs/j1"
    assert to_host("/opt/ml/model/x") == "/jobs/j1/model/x"
    assert to_host(b"/opt/ml/model") == b"/jobs/j1/model"
    assert to_host("/opt/mlflow/x") == "/opt/mlflow/x"
    assert to_host("relative/opt/ml") == "relative/opt/ml"
    assert to_host(3) == 3


MAIN_MODULE = '''
import json, pickle, sys

class Row:
    def __init__(self, value):
        self.value = value

if __name__ == "__main__":
    restored = pickle.loads(pickle.dumps(Row(3)))  # pickle finds the class through sys.modules["__main__"]
    print(json.dumps({"name": __name__, "file": __file__, "main_is_here": sys.modules["__main__"].Row is Row,
                      "restored": restored.value, "loader": type(__loader__).__name__, "spec": __spec__}))
'''


def test_the_script_runs_as_main_as_python_runs_it(tmp_path):
    root = tmp_path / "job"
    code = root / "code"
    code.mkdir(parents=True)
    (code / "main.py").write_text(MAIN_MODULE)

    report = run_shim(root, ["/opt/ml/code/main.py"])

    assert report == {"name": "__main__", "file": str(code / "main.py"), "main_is_here": True, "restored": 3,
                      "loader": "SourceFileLoader", "spec": None}
