"""Run calls on a Ray cluster (or a local Ray instance) through long-lived actors.

Each of the ``n_workers`` actors runs one call at a time and lives across calls, so an
objective can keep its base model loaded between trials, as with the process pool. Calls are
queued on the driver and given to an idle actor; a call over its time limit is stopped by
killing its actor, which is then replaced.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from llmhpo._imports import require
from llmhpo.executors.base import TaskQueue, WorkerDied

__all__ = ["RayExecutor"]


def _make_actor_class(ray: Any, num_cpus: float, num_gpus: float) -> Any:
    @ray.remote(num_cpus=num_cpus, num_gpus=num_gpus, max_restarts=0)
    class _RayWorker:
        def run(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
            return fn(*args)

    return _RayWorker


class RayExecutor:
    """Executor over Ray actors.

    Args:
        n_workers: number of actors (calls that run at once).
        num_cpus_per_trial: CPUs Ray reserves per actor.
        num_gpus_per_trial: GPUs Ray reserves per actor (Ray sets CUDA_VISIBLE_DEVICES).
        address: a Ray cluster address (``"auto"``, ``"ray://host:10001"``); ``None`` starts or
            joins a local instance.
        init_kwargs: further keyword arguments for ``ray.init``.
    """

    def __init__(
        self,
        n_workers: int = 2,
        *,
        num_cpus_per_trial: float = 1,
        num_gpus_per_trial: float = 0,
        address: str | None = None,
        init_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(n_workers, int) or n_workers < 1:
            raise ValueError(f"n_workers must be a positive integer, got {n_workers!r}")
        self._ray = require("ray", feature="the Ray executor")
        if not self._ray.is_initialized():
            kwargs = {"include_dashboard": False, "log_to_driver": True, **(init_kwargs or {})}
            self._ray.init(address=address, **kwargs)
        self.n_workers = n_workers
        self._cls = _make_actor_class(self._ray, num_cpus_per_trial, num_gpus_per_trial)
        self._lock = threading.Lock()
        self._actors: list[Any] = [self._cls.remote() for _ in range(n_workers)]
        self._busy: dict[int, Future[Any]] = {}  # actor index -> our future
        self._queue = TaskQueue()
        self._closed = False

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        if self._closed:
            raise RuntimeError("cannot submit to a shut-down RayExecutor")
        with self._lock:
            fut = self._queue.push(fn, args)
            self._dispatch()
        return fut

    def _dispatch(self) -> None:
        for i in range(len(self._actors)):
            if i in self._busy:
                continue
            task = self._queue.pop()
            if task is None:
                return
            fut, fn, args = task
            self._busy[i] = fut
            ray_fut = self._actors[i].run.remote(fn, args).future()
            ray_fut.add_done_callback(lambda rf, i=i, fut=fut: self._done(i, fut, rf))

    def _done(self, index: int, fut: Future[Any], ray_fut: Future[Any]) -> None:
        with self._lock:
            if self._busy.get(index) is not fut:
                return  # killed and replaced already
            del self._busy[index]
            if not self._closed:
                self._dispatch()
        if fut.done():
            return
        exc = ray_fut.exception()
        if exc is None:
            fut.set_result(ray_fut.result())
        else:
            cause = getattr(exc, "cause", None)
            fut.set_exception(cause if isinstance(cause, BaseException) else exc)

    def kill(self, future: Future[Any]) -> bool:
        # Ray calls are made outside the lock: Ray's callback thread takes it in _done.
        victim = None
        with self._lock:
            for i, f in list(self._busy.items()):
                if f is future:
                    victim, self._actors[i] = self._actors[i], self._cls.remote()
                    del self._busy[i]
                    break
            else:
                return self._queue.cancel(future)
            self._dispatch()
        self._ray.kill(victim, no_restart=True)
        if not future.done():
            future.set_exception(WorkerDied("call stopped by the driver"))
        return True

    def shutdown(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.cancel_all()
            actors, self._actors = self._actors, []
        for a in actors:
            self._ray.kill(a, no_restart=True)
