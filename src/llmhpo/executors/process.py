"""A pool of long-lived worker processes (spawn) that can stop one hung call.

Written by hand rather than with ``concurrent.futures.ProcessPoolExecutor`` because that pool
cannot terminate a single running call: killing a worker breaks the whole pool. Here each
worker has its own pipe; a call over its time limit is stopped by terminating its worker,
which is then replaced. Workers live across calls, so an objective can cache expensive state
(e.g. a base model) in its process between trials.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from multiprocessing.connection import Connection, wait
from typing import Any

from llmhpo.executors.base import TaskQueue, WorkerDied

__all__ = ["ProcessExecutor"]


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


class ProcessExecutor:
    """Run calls in ``n_workers`` spawned processes.

    Args:
        n_workers: number of worker processes.
        worker_env: extra environment variables per worker index, e.g.
            ``lambda i: {"CUDA_VISIBLE_DEVICES": str(i)}`` to give each worker one GPU.
            By default each worker gets ``OMP_NUM_THREADS`` = cores // n_workers.
    """

    def __init__(
        self,
        n_workers: int = 2,
        *,
        worker_env: Callable[[int], dict[str, str]] | None = None,
    ) -> None:
        if not isinstance(n_workers, int) or n_workers < 1:
            raise ValueError(f"n_workers must be a positive integer, got {n_workers!r}")
        self.n_workers = n_workers
        self._ctx = mp.get_context("spawn")
        threads = max(1, (os.cpu_count() or 1) // n_workers)
        self._env_of = worker_env or (lambda i: {"OMP_NUM_THREADS": str(threads)})
        self._lock = threading.Lock()
        self._queue = TaskQueue()
        self._workers = [_Worker(self._ctx, i, self._env_of(i)) for i in range(n_workers)]
        self._closed = False
        self._wake_r, self._wake_w = self._ctx.Pipe(duplex=False)
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    # ----- public -----------------------------------------------------------------------------
    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        if self._closed:
            raise RuntimeError("cannot submit to a shut-down ProcessExecutor")
        with self._lock:
            fut = self._queue.push(fn, args)
            self._dispatch()
        return fut

    def kill(self, future: Future[Any]) -> bool:
        with self._lock:
            for w in self._workers:
                if w.future is future:
                    self._replace(w, WorkerDied(f"call stopped by the driver (worker {w.index})"))
                    self._dispatch()
                    return True
            return self._queue.cancel(future)

    def shutdown(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.cancel_all()
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
    def _dispatch(self) -> None:
        started = False
        for w in self._workers:
            while w.future is None and (task := self._queue.pop()) is not None:
                fut, fn, args = task
                try:
                    w.conn.send((fn, args))
                except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable objective
                    fut.set_exception(exc)
                    continue
                w.future = fut
                started = True
        if started:  # let the collector thread watch the newly busy worker
            self._wake_w.send(b"")

    def _replace(self, w: _Worker, error: BaseException) -> None:
        w.proc.terminate()
        w.proc.join(timeout=5)
        w.conn.close()
        fut = w.future
        new = _Worker(self._ctx, w.index, self._env_of(w.index))
        self._workers[self._workers.index(w)] = new
        if fut is not None and not fut.done():
            fut.set_exception(error)

    def _collect(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                conns = {w.conn: w for w in self._workers if w.future is not None}
                sentinels = {w.proc.sentinel: w for w in self._workers if w.future is not None}
            ready = wait([*conns, *sentinels, self._wake_r], timeout=1.0)
            with self._lock:
                if self._closed:
                    return
                for r in ready:
                    if r is self._wake_r:
                        self._wake_r.recv()
                        continue
                    w = conns.get(r) or sentinels.get(r)  # type: ignore[call-overload]
                    if w is None or w not in self._workers or w.future is None:
                        continue
                    if r is w.conn or w.conn.poll():
                        try:
                            ok, payload = w.conn.recv()
                        except (EOFError, OSError):  # the pipe closed: the worker exited
                            w.proc.join(timeout=1)
                            died = f"worker {w.index} died (exit code {w.proc.exitcode})"
                            self._replace(w, WorkerDied(died))
                            continue
                        fut, w.future = w.future, None
                        fut.set_result(payload) if ok else fut.set_exception(payload)
                    elif not w.proc.is_alive():
                        code = w.proc.exitcode
                        self._replace(w, WorkerDied(f"worker {w.index} died (exit code {code})"))
                self._dispatch()
