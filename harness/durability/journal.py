"""The journal file: one SQLite database in WAL mode, written before each change takes effect.

A committed write survives `kill -9` (WAL with `synchronous=NORMAL` reaches the operating system on
commit; only a power cut can lose the last transactions). Tables:

- `backends`: each Step Functions account/region and the virtual time its clock started at;
- `calls`: every call that changed a backend, in order: the Backend method, its arguments, the
  virtual time, and for calls aimed at one execution (stop, task token answers, activity hand-outs)
  that execution and how many history events it had then, which is where replay applies it again;
- `events`: every history event of every execution, with the exact clock reading it was made at;
- `tokens`: every task token and the execution and event it belongs to;
- `cloud`: the latest saved state of each moto service (`harness.durability.cloud_state`), with the
  bodies of S3 objects kept once each in `blobs`.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

_SCHEMA = """
CREATE TABLE IF NOT EXISTS backends (account TEXT, region TEXT, clock_start REAL, PRIMARY KEY (account, region));
CREATE TABLE IF NOT EXISTS calls (seq INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT, region TEXT, at REAL,
                                  method TEXT, args TEXT, anchor TEXT, anchor_events INTEGER);
CREATE TABLE IF NOT EXISTS events (execution TEXT, id INTEGER, at REAL, body TEXT, PRIMARY KEY (execution, id));
CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY, execution TEXT, event_id INTEGER);
CREATE TABLE IF NOT EXISTS cloud (name TEXT PRIMARY KEY, body BLOB);
CREATE TABLE IF NOT EXISTS blobs (digest TEXT PRIMARY KEY, body BLOB);
"""


Statement = tuple[str, tuple[Any, ...]]  # SQL and its parameters


@dataclass(frozen=True)
class Call:
    """One journaled Backend call."""

    seq: int
    account: str
    region: str
    at: float
    method: str
    args: dict[str, Any]
    anchor: str | None  # the execution the call is aimed at, if any
    anchor_events: int | None  # how many events that execution had when the call was applied


@dataclass(frozen=True)
class Event:
    """One journaled history event: the clock reading it was made at and its fields (timestamp left out)."""

    id: int
    at: float
    fields: dict[str, Any]


class JournalError(Exception):
    """A state directory that cannot hold a journal (not a directory, not writable, not a drydock journal)."""


class Journal:
    """The journal of one `drydock serve` state directory; safe to use from any thread.

    Raises:
        JournalError: the directory cannot be made or written, or its journal file is not one.
    """

    FILE = "journal.sqlite3"

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.path = self.directory / self.FILE
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as err:
            raise JournalError(f"{self.path} cannot be a drydock journal: {err}") from None
        self._lock = threading.Lock()
        # Step Functions writes go through it: `barrier(statement)` saves the cloud state that changed and, in
        # the same transaction, the statement, so a task's effects and its outcome are kept together or not at
        # all (`harness.durability.cloud_state.CloudState.flush`)
        self.barrier: Callable[[Statement], None] | None = None
        self._blobs: set[str] = {row[0] for row in self._db.execute("SELECT digest FROM blobs")}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @property
    def empty(self) -> bool:
        return self._one("SELECT COUNT(*) FROM calls") == 0 and self._one("SELECT COUNT(*) FROM cloud") == 0

    # ------------------------------------------------------------------ writes
    def backend(self, account: str, region: str, clock_start: float) -> float:
        """Record a backend's clock start, once; returns the recorded start (the first one wins)."""
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO backends VALUES (?, ?, ?)", (account, region, clock_start))
            return self._db.execute("SELECT clock_start FROM backends WHERE account=? AND region=?",
                                    (account, region)).fetchone()[0]

    def call(self, account: str, region: str, at: float, method: str, args: dict[str, Any],
             anchor: str | None, anchor_events: int | None) -> None:
        self._step_functions(("INSERT INTO calls (account, region, at, method, args, anchor, anchor_events) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?)", (account, region, at, method,
                                                               json.dumps(args, ensure_ascii=False), anchor,
                                                               anchor_events)))

    def event(self, execution: str, event_id: int, at: float, fields: dict[str, Any]) -> None:
        self._step_functions(("INSERT OR REPLACE INTO events VALUES (?, ?, ?, ?)",
                              (execution, event_id, at, json.dumps(fields, ensure_ascii=False))))

    def token(self, token: str, execution: str, event_id: int) -> None:
        self._write("INSERT OR IGNORE INTO tokens VALUES (?, ?, ?)", (token, execution, event_id))

    def save_cloud(self, parts: dict[str, bytes], blobs: dict[str, bytes], then: Statement | None = None) -> None:
        """Replace the saved state of some services, add the S3 object bodies they refer to, and run `then`
        (a Step Functions write), in one transaction."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                for digest, body in blobs.items():
                    if digest not in self._blobs:
                        self._db.execute("INSERT OR IGNORE INTO blobs VALUES (?, ?)", (digest, body))
                for name, body in parts.items():
                    self._db.execute("INSERT OR REPLACE INTO cloud VALUES (?, ?)", (name, body))
                if then is not None:
                    self._db.execute(*then)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._blobs.update(blobs)

    def has_blob(self, digest: str) -> bool:
        return digest in self._blobs

    # ------------------------------------------------------------------ reads
    def backends(self) -> list[tuple[str, str, float]]:
        return self._all("SELECT account, region, clock_start FROM backends")

    def calls(self, account: str, region: str) -> list[Call]:
        rows = self._all("SELECT seq, account, region, at, method, args, anchor, anchor_events FROM calls "
                         "WHERE account=? AND region=? ORDER BY seq", (account, region))
        return [Call(seq, acc, reg, at, method, json.loads(args), anchor, count)
                for seq, acc, reg, at, method, args, anchor, count in rows]

    def events(self, execution_prefix: str) -> dict[str, list[Event]]:
        """Every journaled event of the executions whose ARN starts with the prefix, by execution, in order."""
        found: dict[str, list[Event]] = {}
        for execution, event_id, at, body in self._all(
                "SELECT execution, id, at, body FROM events WHERE execution >= ? AND execution < ? "
                "ORDER BY execution, id", (execution_prefix, execution_prefix + "\uffff")):
            found.setdefault(execution, []).append(Event(event_id, at, json.loads(body)))
        return found

    def tokens(self) -> dict[str, tuple[str, int]]:
        return {token: (execution, event_id) for token, execution, event_id in self._all("SELECT * FROM tokens")}

    def cloud(self) -> dict[str, bytes]:
        return dict(self._all("SELECT name, body FROM cloud"))

    def blob(self, digest: str) -> bytes:
        row = self._all("SELECT body FROM blobs WHERE digest=?", (digest,))
        if not row:
            raise KeyError(f"the journal {self.path} has no S3 object body {digest}: the state directory is damaged")
        return row[0][0]

    # ------------------------------------------------------------------ plumbing
    def _step_functions(self, statement: Statement) -> None:
        if self.barrier is not None:
            self.barrier(statement)
        else:
            self._write(*statement)

    def _write(self, sql: str, params: Iterable[Any]) -> None:
        with self._lock:
            self._db.execute(sql, tuple(params))

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def _one(self, sql: str) -> Any:
        return self._all(sql)[0][0]
