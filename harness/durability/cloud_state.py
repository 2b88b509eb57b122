"""The local cloud's state in the journal: moto's services, and drydock's own services that keep state.

moto keeps every service in memory (`BackendDict[account][region]`). `CloudState` notes which service a
request changed (every in-process boto3 call through botocore's `after-call` event, every request to
`drydock serve` at its gateway; reads are told apart by HTTP method and action name) and saves those
services, pickled, before the change is acknowledged: the gateway calls `flush` before it answers a
request, and the Step Functions journal writes each of its events in the same transaction as the state
saved with it, so a task's effects and its outcome are kept together or not at all. S3 object bodies are
stored once each, by digest, not in every save of the bucket. drydock's own stateful services (the
SageMaker job runtime, endpoints, ...) take part as `Part`s: they say when they changed (`mark`), give
their state as plain data (`dump`), take it back (`load`) and restart their work (`resume`).
"""
from __future__ import annotations

import collections
import hashlib
import io
import pickle
import re
import threading
import weakref
from typing import Any, Callable, Iterable, Protocol
from urllib.parse import parse_qs

import cloudpickle

from harness.durability.journal import Journal, Statement

BLOB_BYTES = 64 * 1024  # bytes values at least this long are saved once, by digest
FLUSH_SECONDS = 0.25  # how often changes made outside any request (a job's thread) are saved
_SIGNED_FOR = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/")  # SigV4's service
# moto services that change others without a request of their own: SNS delivers to SQS queues, S3 notifies
# SQS, SNS and EventBridge, EventBridge rules deliver to SQS and SNS.
_ALSO_CHANGES = {"sns": ("sqs",), "s3": ("sqs", "sns", "events"), "events": ("sqs", "sns")}
_READS = ("Describe", "List", "Get", "Head", "Search", "Query", "Scan", "Select", "BatchGet", "Lookup", "Filter")


class Part(Protocol):
    """A drydock service whose state must survive a restart."""

    name: str

    def dump(self) -> Any: ...

    def load(self, state: Any) -> None: ...

    def resume(self) -> None: ...


class ServicePart:
    """A drydock service as a part: whichever instance is installed when it is saved or restored (`current()`,
    since tests and the demo install their own)."""

    def __init__(self, name: str, current: Callable[[], Any]):
        self.name, self.current = name, current

    def dump(self) -> Any:
        return self.current().dump()

    def load(self, state: Any) -> None:
        self.current().load(state)

    def resume(self) -> None:
        self.current().resume()


class Regional:
    """`dump`/`load`/`resume` for a service kept per account and region (`_regions`, `_lock`, `region(account,
    region)`) whose region objects have `state()`, `restore(state)` and `resume()`."""

    _regions: dict[tuple[str, str], Any]
    _lock: Any

    def region(self, account: str, region: str) -> Any: ...

    def dump(self) -> dict[tuple[str, str], Any]:
        with self._lock:
            regions = dict(self._regions)
        return {key: found.state() for key, found in regions.items()}

    def load(self, state: dict[tuple[str, str], Any]) -> None:
        for (account, region), saved in state.items():
            self.region(account, region).restore(saved)

    def resume(self) -> None:
        with self._lock:
            regions = list(self._regions.values())
        for found in regions:
            found.resume()


_PARTS: dict[str, Part] = {}
_OWNED: dict[tuple[str, str], str] = {}  # (service, action) -> the part that answers it


def durable(part: Part, service: str = "", actions: Iterable[str] = ()) -> Part:
    """Register a drydock service's state with the journal (replaces an earlier part of the same name).

    A request for one of `service`'s `actions` marks the part changed, reads included: a read may show
    progress made on a worker thread, which is saved before it is shown.
    """
    _PARTS[part.name] = part
    for action in actions:
        _OWNED[(service, action)] = part.name
    return part


class CloudState:
    """Saves changed services to the journal; one per `drydock serve` process."""

    def __init__(self, journal: Journal):
        self.journal = journal
        self._dirty: set[str] = set()
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ noticing changes
    def mark(self, name: str) -> None:
        with self._lock:
            self._dirty.add(name)

    def observe(self, service: str, action: str | None, method: str = "POST") -> None:
        """A request reached `service` (botocore's name for it): note the service changed unless it only read."""
        owner = _OWNED.get((service, action or ""))
        if owner is not None:
            self.mark(owner)
            return
        if method in ("GET", "HEAD") or service in ("stepfunctions", "states") or (action or "").startswith(_READS):
            return
        name = _backend_name(service)
        for changed in (name, *_ALSO_CHANGES.get(name, ())):
            self.mark(changed)

    def observe_wsgi(self, environ: dict[str, Any]) -> None:
        """`observe` for a request that reached `drydock serve`'s gateway (the service from its signature)."""
        signed = _SIGNED_FOR.search(environ.get("HTTP_AUTHORIZATION", ""))
        if signed is None:
            return  # unsigned: not a client of a service
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        action = target.rpartition(".")[2] if target else (parse_qs(environ.get("QUERY_STRING", "")).get("Action")
                                                            or [None])[0]
        self.observe(signed.group(1), action, environ.get("REQUEST_METHOD", "POST"))

    def install(self) -> None:
        """Start noticing changes (every boto3 client made from now on, in this process) and saving them
        every `FLUSH_SECONDS` in the background, and before each Step Functions journal write."""
        from botocore.handlers import BUILTIN_HANDLERS

        global _MARK
        BUILTIN_HANDLERS.append(("after-call", self._after_call))
        _MARK = self.mark
        self.journal.barrier = self.flush
        self._thread = threading.Thread(target=self._loop, name="drydock-cloud-state", daemon=True)
        self._thread.start()

    def _after_call(self, model: Any = None, **_: Any) -> None:
        if model is not None:
            self.observe(model.service_model.service_name, model.name, model.http.get("method", "POST"))

    def close(self, *, save: bool = True) -> None:
        """Stop noticing changes; save what is left unless `save` is False (a restore that failed half way must
        not overwrite the journal it could not read)."""
        from botocore.handlers import BUILTIN_HANDLERS

        global _MARK
        self._stop.set()
        if ("after-call", self._after_call) in BUILTIN_HANDLERS:
            BUILTIN_HANDLERS.remove(("after-call", self._after_call))
        _MARK = None
        self.journal.barrier = None
        if save:
            self.flush()

    def _loop(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            self.flush()

    # ------------------------------------------------------------------ saving and loading
    def flush(self, then: Statement | None = None) -> None:
        """Save every service changed since the last save, and the journal write `then`, in one transaction."""
        with self._flushing:
            with self._lock:
                names, self._dirty = self._dirty, set()
            if not names and then is None:
                return
            parts: dict[str, bytes] = {}
            blobs: dict[str, bytes] = {}
            for name in sorted(names):
                parts[name] = _dumps(_state_of(name), blobs, self.journal)
            self.journal.save_cloud(parts, {d: b for d, b in blobs.items() if not self.journal.has_blob(d)}, then)

    def restore(self) -> list[str]:
        """Put every saved service back, then let drydock's parts restart their work; returns the names."""
        saved = self.journal.cloud()
        with self._flushing:  # nothing is saved while the saved state is read back: it is what was saved
            for name, body in saved.items():
                state = _Unpickler(io.BytesIO(body), self.journal).load()
                if name in _PARTS:
                    _PARTS[name].load(state)
                else:
                    _load_moto(name, state)
            with self._lock:
                self._dirty.clear()
        for name in saved:
            if name in _PARTS:
                _PARTS[name].resume()
        return sorted(saved)


_MARK: Callable[[str], None] | None = None


def mark(name: str) -> None:
    """Say that a drydock part changed (nothing happens unless `drydock serve` keeps a journal)."""
    if _MARK is not None:
        _MARK(name)


def _backend_name(service_name: str) -> str:
    from moto.backends import ALT_BACKEND_NAMES

    return ALT_BACKEND_NAMES.get(service_name, service_name)


def _state_of(name: str) -> Any:
    if name in _PARTS:
        return _PARTS[name].dump()
    from moto.backends import get_backend

    return {account: dict(regions.items()) for account, regions in get_backend(name).items()}  # type: ignore[arg-type]


def _load_moto(name: str, state: dict[str, dict[str, Any]]) -> None:
    from moto.backends import get_backend

    backends = get_backend(name)  # type: ignore[arg-type]
    for account, regions in state.items():
        for region, backend in regions.items():
            dict.__setitem__(backends[account], region, backend)


def _event(was_set: bool) -> threading.Event:
    event = threading.Event()
    if was_set:
        event.set()
    return event


_REDUCERS: dict[type, Callable[[Any], Any]] = {
    type(threading.Lock()): lambda lock: (threading.Lock, ()),
    type(threading.RLock()): lambda lock: (threading.RLock, ()),
    threading.Event: lambda event: (_event, (event.is_set(),)),
    threading.Condition: lambda condition: (threading.Condition, ()),
    weakref.WeakValueDictionary: lambda held: (weakref.WeakValueDictionary, (dict(held.items()),)),
    weakref.WeakKeyDictionary: lambda held: (weakref.WeakKeyDictionary, (dict(held.items()),)),
}


class _Pickler(cloudpickle.Pickler):
    """cloudpickle (moto's backends hold lambdas and closures), with locks made anew on load, weak
    dictionaries kept as what they hold now, and long bytes values kept aside as blobs."""

    dispatch_table = collections.ChainMap(_REDUCERS, cloudpickle.Pickler.dispatch_table)

    def __init__(self, file: io.BytesIO, blobs: dict[str, bytes], journal: Journal):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._blobs, self._journal = blobs, journal

    def persistent_id(self, obj: Any) -> Any:
        if type(obj) is bytes and len(obj) >= BLOB_BYTES:
            digest = hashlib.sha256(obj).hexdigest()
            self._blobs.setdefault(digest, obj)
            return ("blob", digest)
        return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, journal: Journal):
        super().__init__(file)
        self._journal = journal

    def persistent_load(self, pid: Any) -> Any:
        kind, digest = pid
        return self._journal.blob(digest)


def _dumps(state: Any, blobs: dict[str, bytes], journal: Journal) -> bytes:
    for attempt in range(5):  # another thread may change the state while it is being pickled: take it again
        buffer = io.BytesIO()
        try:
            _Pickler(buffer, blobs, journal).dump(state)
            return buffer.getvalue()
        except RuntimeError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")
