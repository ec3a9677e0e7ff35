"""Several drivers on one study: the claim lock, driver identity, heartbeats, reclaiming.

Drivers (``llmhpo run`` on several machines, or several processes on one) share a study
through its database. Three things keep them consistent:

* **The claim lock.** A driver syncs its optimizer with the stored trials, asks it for points
  and writes them as RUNNING trials while it holds a lock on the study, so the budget check
  (finished + running < budget) and the new trials are one step: the budget holds exactly and
  no two drivers propose from the same state. The lock is the database's own where it has
  one (PostgreSQL ``pg_advisory_xact_lock``, MySQL ``GET_LOCK``); a SQLite database is a
  local file, so its lock is an ``flock`` on a file beside it.
* **Heartbeats.** A driver records a heartbeat (Optuna's ``trial_heartbeats`` table, stamped
  with the database server's clock, so machines' clocks do not matter) for each trial it runs,
  every ``heartbeat_interval`` seconds, from a thread of its own.
* **Reclaiming.** A RUNNING trial of another driver is reclaimed (marked INTERRUPTED, its slot
  freed) only when that driver is really gone: its process no longer exists on this machine,
  or its heartbeat is older than ``grace_period``. The reclaim is one guarded state write, so it
  never overwrites a result that arrived first.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import uuid
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DriverInfo",
    "Heartbeat",
    "claim_lock",
    "driver_is_gone",
    "stale_trial_ids",
    "reclaim_trial",
    "supports_heartbeat",
]

_logger = logging.getLogger("llmhpo")

RECLAIM_REASON = "the driver stopped while it ran"

_local_locks: dict[str, threading.Lock] = {}
_local_locks_guard = threading.Lock()


@dataclass(frozen=True)
class DriverInfo:
    """Who runs a trial: a random token per driver, the machine and the process."""

    token: str
    host: str
    pid: int

    @classmethod
    def new(cls) -> DriverInfo:
        return cls(uuid.uuid4().hex, socket.gethostname(), os.getpid())

    def to_dict(self) -> dict[str, Any]:
        return {"token": self.token, "host": self.host, "pid": self.pid}


def driver_is_gone(info: Mapping[str, Any]) -> bool:
    """True when the driver ran on this machine and its process no longer exists.

    A driver on another machine is never judged here; its heartbeat decides.
    """
    if info.get("host") != socket.gethostname():
        return False
    pid = int(info.get("pid", -1))
    if pid <= 0:
        return False
    if pid == os.getpid():
        return False  # another Study object of this very process: alive by definition
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # exists, owned by someone else
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed child not yet reaped still has a pid; /proc tells it is dead (Linux)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False


def supports_heartbeat(storage: Any) -> bool:
    """Only database storages can record heartbeats (a memory study has a single driver)."""
    return hasattr(storage, "record_heartbeat") and hasattr(storage, "engine")


@contextlib.contextmanager
def claim_lock(storage: Any, study_id: int) -> Iterator[None]:
    """Hold the study's claim lock (exclusive across processes and machines) for the block."""
    engine = getattr(storage, "engine", None)
    dialect = engine.dialect.name if engine is not None else "memory"
    key = f"{id(storage)}:{study_id}" if engine is None else f"{engine.url}:{study_id}"
    local = _local_lock(key)
    with local:  # threads of one process first (cheap), then the cross-process lock
        if dialect == "postgresql":
            import sqlalchemy

            # one 64-bit key per study: a fixed tag in the high half, the study id below
            tag = zlib.crc32(b"llmhpo-claim") & 0x7FFFFFFF
            lock_id = (tag << 32) | (int(study_id) & 0xFFFFFFFF)
            with engine.connect() as conn, conn.begin():
                conn.execute(sqlalchemy.text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_id})
                yield  # the transaction's end releases the lock
        elif dialect == "mysql":
            import sqlalchemy

            name = f"llmhpo-claim-{study_id}"
            with engine.connect() as conn:
                conn.execute(sqlalchemy.text("SELECT GET_LOCK(:n, -1)"), {"n": name})
                try:
                    yield
                finally:
                    conn.execute(sqlalchemy.text("SELECT RELEASE_LOCK(:n)"), {"n": name})
        elif dialect == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            with _file_lock(f"{engine.url.database}.llmhpo-lock"):
                yield
        else:  # in-memory storage (one process) or a database without a lock we know
            yield


def _local_lock(key: str) -> threading.Lock:
    with _local_locks_guard:
        return _local_locks.setdefault(key, threading.Lock())


@contextlib.contextmanager
def _file_lock(path: str) -> Iterator[None]:
    # fcntl.flock, written out rather than a file-lock package: the lock is a few lines and
    # a SQLite file is local to one machine anyway (flock does not cross NFS reliably).
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def stale_trial_ids(storage: Any, study_id: int, grace_period: float) -> set[int]:
    """RUNNING trials whose latest heartbeat is older than ``grace_period`` seconds.

    Uses the database server's clock (Optuna's heartbeat query), so drivers on machines with
    different clocks agree. Trials that never recorded a heartbeat are not listed.
    """
    if not supports_heartbeat(storage):
        return set()
    # Optuna's query reads the grace period from the storage's attributes.
    storage.heartbeat_interval = max(1, int(grace_period))
    storage.grace_period = max(1, int(round(grace_period)))
    return set(storage._get_stale_trial_ids(study_id))


def reclaim_trial(storage: Any, trial_id: int, reason: str = RECLAIM_REASON) -> bool:
    """Mark another driver's RUNNING trial INTERRUPTED; False if it finished meanwhile.

    The reason is written first, under its own key (a finished trial refuses the write, so it
    never lands on a result); the state change is one row-locked write that fails if the
    owner's result arrived first, so a reclaim never overwrites a result.
    """
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState as OptunaState

    try:
        storage.set_trial_system_attr(trial_id, "llmhpo:reclaimed", reason)
        return bool(storage.set_trial_state_values(trial_id, OptunaState.FAIL, None))
    except UpdateFinishedTrialError:
        return False


class Heartbeat:
    """A thread that records a heartbeat every ``interval`` seconds for this driver's trials."""

    def __init__(self, storage: Any, interval: float) -> None:
        self._storage = storage
        self._interval = float(interval)
        self._ids: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, trial_id: int) -> None:
        """Start beating for ``trial_id`` (the first beat is recorded now)."""
        with self._lock:
            self._ids.add(trial_id)
        self._beat([trial_id])

    def discard(self, trial_id: int) -> None:
        with self._lock:
            self._ids.discard(trial_id)

    def start(self) -> Heartbeat:
        self._thread = threading.Thread(target=self._run, name="llmhpo-heartbeat", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                ids = sorted(self._ids)
            self._beat(ids)

    def _beat(self, ids: list[int]) -> None:
        for trial_id in ids:
            try:
                self._storage.record_heartbeat(trial_id)
            except Exception as exc:  # noqa: BLE001 - a lost beat is retried next interval
                _logger.warning("heartbeat of trial id %d not recorded: %s", trial_id, exc)
