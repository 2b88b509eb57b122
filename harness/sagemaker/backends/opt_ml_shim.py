"""Run an unmodified SageMaker job script on the host, its /opt/ml paths redirected to the job's root directory.

Usage: ``python opt_ml_shim.py ROOT SCRIPT [ARGS...]``, where SCRIPT may be a container path such as
/opt/ml/processing/input/code/preprocess.py. Before the script runs, path-taking entry points in `builtins`,
`io` and `os` are wrapped so that "/opt/ml" and "/opt/ml/..." resolve under ROOT; `glob`, `pathlib`, `shutil`,
`tarfile` and `os.path` reach the file system through those. `os.fspath` is mapped too, because libraries such
as XGBoost and pyarrow pass its result to native code; the price is that strings built with `os.path` may
spell host paths, as the SM_* variables already do. Native code that never calls `os.fspath`, and child
processes, see the real file system. This file imports only the standard library: it runs inside the job's
interpreter.

The script runs as ``python SCRIPT`` runs it: its code in a fresh ``__main__`` module. Not through
`runpy.run_path`, which made the job's own imports measurably slower (0.2-0.4 s more CPU for pandas + xgboost +
scikit-learn, with the same Python calls; benchmarks/jobs.py).
"""
import builtins
import functools
import io
import os
import sys
import types
from importlib.machinery import SourceFileLoader

OPT_ML = "/opt/ml"
OPT_ML_BYTES = os.fsencode(OPT_ML)

ONE_PATH = ("access", "chdir", "chmod", "chown", "listdir", "lstat", "mkdir", "open", "readlink", "remove",
            "rmdir", "scandir", "stat", "truncate", "unlink", "utime")
TWO_PATHS = ("link", "rename", "replace", "symlink")


def path_mapper(root):
    """Return fn(path) that rebases container paths under `root` and leaves every other argument as it is."""
    root_bytes = os.fsencode(root)
    real_fspath = os.fspath

    def to_host(path):
        if isinstance(path, int) or path is None:
            return path
        text = real_fspath(path)
        if isinstance(text, bytes):
            if text == OPT_ML_BYTES or text.startswith(OPT_ML_BYTES + b"/"):
                return root_bytes + text[len(OPT_ML_BYTES):]
        elif text == OPT_ML or text.startswith(OPT_ML + "/"):
            return root + text[len(OPT_ML):]
        return path

    return to_host


def install(root):
    """Patch open, io.open, os.* and os.fspath in this interpreter; returns the mapper."""
    to_host = path_mapper(root)
    real_open = builtins.open

    def open_(file, *args, **kwargs):
        return real_open(to_host(file), *args, **kwargs)

    builtins.open = io.open = open_
    for name in ONE_PATH:
        setattr(os, name, _one_path(getattr(os, name), to_host))
    for name in TWO_PATHS:
        setattr(os, name, _two_paths(getattr(os, name), to_host))
    real_fspath = os.fspath
    os.fspath = lambda path: to_host(real_fspath(path))
    return to_host


def _one_path(function, to_host):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if args:
            args = (to_host(args[0]),) + args[1:]
        elif "path" in kwargs:
            kwargs["path"] = to_host(kwargs["path"])
        return function(*args, **kwargs)

    return wrapper


def _two_paths(function, to_host):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        args = tuple(to_host(arg) for arg in args[:2]) + args[2:]
        for name in ("src", "dst"):
            if name in kwargs:
                kwargs[name] = to_host(kwargs[name])
        return function(*args, **kwargs)

    return wrapper


def main(argv):
    root, script, *args = argv
    to_host = install(os.path.abspath(root))
    host_script = to_host(script)
    sys.argv = [host_script, *args]  # argv[0] and __file__ are the host path; imports relative to them need it
    sys.path[0] = os.path.dirname(os.path.abspath(host_script))
    run_as_main(host_script)


def run_as_main(path):
    """Run the script at `path` as the interpreter runs `python path`: compiled from source, in a new __main__."""
    with io.open_code(path) as source:
        code = compile(source.read(), path, "exec")
    main = types.ModuleType("__main__")
    main.__file__, main.__cached__, main.__builtins__ = path, None, builtins
    main.__loader__ = SourceFileLoader("__main__", path)
    sys.modules["drydock_opt_ml_shim"] = sys.modules["__main__"]  # the shim's wrappers keep their globals
    sys.modules["__main__"] = main
    exec(code, main.__dict__)


if __name__ == "__main__":
    main(sys.argv[1:])
