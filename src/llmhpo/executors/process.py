"""A pool of long-lived worker processes (spawn) that can stop one hung call.

Written by hand rather than with ``concurrent.futures.ProcessPoolExecutor`` because that pool
cannot terminate a single running call: killing a worker breaks the whole pool. Here each
worker has its own pipe; a call over its time limit is stopped by terminating its worker,
which is then replaced. Workers live across calls, so an objective can cache expensive state
(e.g. a base model) in its process between trials.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from multiprocessing.connection import Connection, wait
from typing import Any

from llmhpo.executors.base import TaskQueue, WorkerDied, mark_queued, mark_started
from llmhpo.validation import check_int

__all__ = ["ProcessExecutor"]

_logger = logging.getLogger("llmhpo")


_STARTED = "started"  # a worker's message: it received a call and begins running it


def _worker_main(conn: Connection, env: dict[str, str]) -> None:
    os.environ.update(env)
    while True:
        try:
            task = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if task is None:
            return
        fn, args = task
        conn.send(_STARTED)  # the driver times the call from here, not from its start-up
        try:
            conn.send((True, fn(*args)))
        except KeyboardInterrupt:
            return
        except BaseException as exc:  # noqa: BLE001 - sent back to the driver
            try:
                conn.send((False, exc))
            except Exception:  # unpicklable exception
                conn.send((False, RuntimeError(f"{type(exc).__name__}: {exc}")))


class _Worker:
    def __init__(self, ctx: Any, index: int, env: dict[str, str]) -> None:
        self.index = index
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(
            target=_worker_main, args=(child, env), daemon=True, name=f"llmhpo-worker-{index}"
        )
        self.proc.start()
        child.close()
        self.future: Future[Any] | None = None
        self.task: tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None = None


class ProcessExecutor:
    """Run calls in up to ``n_workers`` spawned processes.

    Workers are started on demand (a study with 2 trials left starts 2 workers, whatever
    ``n_workers``), live across calls, and are replaced when they die, busy or idle. A call
    whose worker died under it (segfault, ``os._exit``, killed by the OS or by hand) is run
    once more on a fresh worker before it is reported as failed: a worker's death is not
    necessarily the call's fault, and one retry keeps an infrastructure failure from being
    charged to a trial's hyperparameters. Calls stopped by :meth:`kill` (time limits) are not
    retried.

    Args:
        n_workers: most worker processes at once.
        worker_env: extra environment variables per worker index, e.g.
            ``lambda i: {"CUDA_VISIBLE_DEVICES": str(i)}`` to give each worker one GPU.
            By default each worker gets ``OMP_NUM_THREADS`` = cores // n_workers.
        retries: times a call is run again after its worker died (default 1).
    """

    def __init__(
        self,
        n_workers: int = 2,
        *,
        worker_env: Callable[[int], dict[str, str]] | None = None,
        retries: int = 1,
    ) -> None:
        self.n_workers = check_int("n_workers", n_workers, low=1, high=1024)
        self.retries = check_int("retries", retries, low=0, high=10)
        self._ctx = mp.get_context("spawn")
        threads = max(1, (os.cpu_count() or 1) // n_workers)
        self._env_of = worker_env or (lambda i: {"OMP_NUM_THREADS": str(threads)})
        self._lock = threading.Lock()
        self._queue = TaskQueue()
        # calls whose worker died, to run again first: (future, fn, args)
        self._again: deque[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]] = deque()
        self._attempts: dict[int, int] = {}  # id(future) -> runs started
        self._workers: list[_Worker] = []
        self._closed = False
        self.n_started = 0  #: worker processes started so far (replacements included)
        self._wake_r, self._wake_w = self._ctx.Pipe(duplex=False)
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    # ----- public -----------------------------------------------------------------------------
    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        if self._closed:
            raise RuntimeError("cannot submit to a shut-down ProcessExecutor")
        with self._lock:
            fut = self._queue.push(fn, args)
            mark_queued(fut)
            self._dispatch()
        return fut

    def kill(self, future: Future[Any]) -> bool:
        with self._lock:
            for w in self._workers:
                if w.future is future:
                    w.task = None  # stopped on purpose: not retried
                    self._replace(w, WorkerDied(f"call stopped by the driver (worker {w.index})"))
                    self._dispatch()
                    return True
            for item in self._again:
                if item[0] is future:
                    self._again.remove(item)
                    future.set_exception(WorkerDied("call stopped by the driver"))
                    return True
            return self._queue.cancel(future)

    def shutdown(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.cancel_all()
            for fut, _, _ in self._again:
                if not fut.done():
                    fut.set_exception(WorkerDied("the executor was shut down"))
            self._again.clear()
            for w in self._workers:
                if w.future is not None:
                    w.proc.terminate()
                else:
                    try:
                        w.conn.send(None)
                    except OSError:
                        pass
        self._wake_w.send(b"")
        self._thread.join(timeout=5)
        for w in self._workers:
            w.proc.join(timeout=5)
            if w.proc.is_alive():
                w.proc.kill()
            w.conn.close()

    def __enter__(self) -> ProcessExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # ----- internals (call with the lock held) ------------------------------------------------
    def _next_task(self) -> tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None:
        if self._again:
            return self._again.popleft()
        return self._queue.pop()

    def _idle_worker(self) -> _Worker | None:
        """An idle live worker; a new one if none is idle and the pool is not full."""
        for w in list(self._workers):
            if w.future is None:
                if w.proc.is_alive():
                    return w
                return self._replace(w, None)  # died while idle: nothing to report
        if len(self._workers) < self.n_workers:
            used = {w.index for w in self._workers}
            index = min(i for i in range(self.n_workers) if i not in used)
            self._workers.append(self._start(index))
            return self._workers[-1]
        return None

    def _start(self, index: int) -> _Worker:
        self.n_started += 1
        return _Worker(self._ctx, index, self._env_of(index))

    def _dispatch(self) -> None:
        started = False
        while self._again or len(self._queue):
            w = self._idle_worker()
            if w is None:
                break
            task = self._next_task()
            if task is None:
                break
            fut, fn, args = task
            try:
                w.conn.send((fn, args))
            except (BrokenPipeError, ConnectionError, EOFError):
                # the worker died between calls: replace it and give the call to the new one
                self._replace(w, None)
                self._again.appendleft(task)
                continue
            except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable objective
                fut.set_exception(exc)
                continue
            w.future, w.task = fut, task
            self._attempts[id(fut)] = self._attempts.get(id(fut), 0) + 1
            started = True
        if started:  # let the collector thread watch the newly busy worker
            self._wake_w.send(b"")

    def _replace(self, w: _Worker, error: BaseException | None) -> _Worker:
        """Stop ``w`` and start a fresh worker in its place.

        The call ``w`` was running is run again (``retries`` times at most) unless it was
        stopped on purpose (``w.task`` cleared by :meth:`kill`); otherwise its future gets
        ``error``.
        """
        w.proc.terminate()
        w.proc.join(timeout=5)
        w.conn.close()
        fut, task = w.future, w.task
        new = self._start(w.index)
        self._workers[self._workers.index(w)] = new
        if fut is None or fut.done():
            return new
        runs = self._attempts.get(id(fut), 1)
        if task is not None and runs <= self.retries and not self._closed:
            _logger.warning("%s while running a call; running it again on a new worker", error)
            mark_queued(fut)
            self._again.append(task)
            return new
        self._attempts.pop(id(fut), None)
        if runs > 1 and error is not None:
            error = WorkerDied(f"{error} (it died on each of {runs} runs of this call)")
        fut.set_exception(error or WorkerDied(f"worker {w.index} died"))
        return new

    def _collect(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                conns = {w.conn: w for w in self._workers if w.future is not None}
                # every worker's sentinel: one that dies while idle is replaced at once
                sentinels = {w.proc.sentinel: w for w in self._workers}
            ready = wait([*conns, *sentinels, self._wake_r], timeout=1.0)
            with self._lock:
                if self._closed:
                    return
                for r in ready:
                    if r is self._wake_r:
                        self._wake_r.recv()
                        continue
                    w = conns.get(r) or sentinels.get(r)  # type: ignore[call-overload]
                    if w is None or w not in self._workers:
                        continue
                    if w.future is None:
                        if not w.proc.is_alive():
                            self._replace(w, None)
                        continue
                    if r is w.conn or w.conn.poll():
                        try:
                            msg = w.conn.recv()
                            if msg == _STARTED:
                                mark_started(w.future)
                                continue
                            ok, payload = msg
                        except (EOFError, OSError):  # the pipe closed: the worker exited
                            w.proc.join(timeout=1)
                            died = f"worker {w.index} died (exit code {w.proc.exitcode})"
                            self._replace(w, WorkerDied(died))
                            continue
                        fut, w.future, w.task = w.future, None, None
                        self._attempts.pop(id(fut), None)
                        fut.set_result(payload) if ok else fut.set_exception(payload)
                    elif not w.proc.is_alive():
                        code = w.proc.exitcode
                        self._replace(w, WorkerDied(f"worker {w.index} died (exit code {code})"))
                self._dispatch()
