"""Run calls on a Ray cluster (or a local Ray instance) through long-lived actors.

Each of the ``n_workers`` actors runs one call at a time and lives across calls, so an
objective can keep its base model loaded between trials, as with the process pool. Each actor
reserves the resources of one trial (CPUs, GPUs, custom resources such as a node label), so
Ray places it on a node that has them. Calls are queued on the driver and given to an idle
actor; a call over its time limit is stopped by killing its actor, which is then replaced. An
actor that dies under a call (its process killed, its node lost) fails that call with
:class:`~llmhpo.executors.WorkerDied` and is replaced the same way; the replacement waits until
the cluster has room for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from llmhpo._imports import require
from llmhpo.executors.base import TaskQueue, WorkerDied

__all__ = ["RayExecutor"]


def _make_actor_class(
    ray: Any, num_cpus: float, num_gpus: float, resources: dict[str, float]
) -> Any:
    @ray.remote(num_cpus=num_cpus, num_gpus=num_gpus, resources=resources or None,
                max_restarts=0)
    class _RayWorker:
        def run(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
            return fn(*args)

        def ready(self) -> bool:
            return True

    return _RayWorker


class RayExecutor:
    """Executor over Ray actors.

    Args:
        n_workers: number of actors (calls that run at once).
        num_cpus_per_trial: CPUs Ray reserves per actor.
        num_gpus_per_trial: GPUs Ray reserves per actor (Ray sets CUDA_VISIBLE_DEVICES);
            fractions share a GPU (0.5: two trials per GPU).
        resources: custom resources reserved per actor, e.g. ``{"a100": 1}`` for nodes started
            with ``ray start --resources '{"a100": 4}'``.
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
        resources: dict[str, float] | None = None,
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
        self._cls = _make_actor_class(
            self._ray, num_cpus_per_trial, num_gpus_per_trial, dict(resources or {})
        )
        # reentrant: a Ray future already resolved runs its callback (which takes the lock)
        # inside add_done_callback
        self._lock = threading.RLock()
        self._actors: list[Any] = [None] * n_workers
        self._ready: set[int] = set()  # actor indices that answered, so can take a call
        self._busy: dict[int, Future[Any]] = {}  # actor index -> our future
        self._queue = TaskQueue()
        self._closed = False
        with self._lock:
            for i in range(n_workers):
                self._spawn(i)

    def _spawn(self, index: int) -> None:
        """Start the actor of slot ``index``; it takes calls once it has answered a ping.

        A call is never given to an actor that has not started: a replacement Ray places on
        a node that is dying (not yet marked dead) fails its ping, not a trial, and is
        replaced again.
        """
        actor = self._cls.remote()
        self._actors[index] = actor
        self._ready.discard(index)
        ping = actor.ready.remote().future()
        ping.add_done_callback(lambda f, i=index, a=actor: self._answered(i, a, f))

    def _answered(self, index: int, actor: Any, ping: Future[Any]) -> None:
        with self._lock:
            if self._closed or self._actors[index] is not actor:
                return
            if ping.exception() is None:
                self._ready.add(index)
                self._dispatch()
                return
        # the cluster is losing a node: give it a moment (not in Ray's callback thread)
        threading.Timer(1.0, self._respawn, (index, actor)).start()

    def _respawn(self, index: int, actor: Any) -> None:
        with self._lock:
            if not self._closed and self._actors[index] is actor:
                self._spawn(index)

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        if self._closed:
            raise RuntimeError("cannot submit to a shut-down RayExecutor")
        with self._lock:
            fut = self._queue.push(fn, args)
            self._dispatch()
        return fut

    def _dispatch(self) -> None:
        for i in range(len(self._actors)):
            if i in self._busy or i not in self._ready:
                continue
            task = self._queue.pop()
            if task is None:
                return
            fut, fn, args = task
            self._busy[i] = fut
            ray_fut = self._actors[i].run.remote(fn, args).future()
            ray_fut.add_done_callback(lambda rf, i=i, fut=fut: self._done(i, fut, rf))

    def _done(self, index: int, fut: Future[Any], ray_fut: Future[Any]) -> None:
        exc = ray_fut.exception()
        died = isinstance(exc, self._ray.exceptions.RayActorError)
        with self._lock:
            if self._busy.get(index) is not fut:
                return  # killed and replaced already
            del self._busy[index]
            if died and not self._closed:  # the actor's process or node is gone: replace it
                self._spawn(index)
            if not self._closed:
                self._dispatch()
        if fut.done():
            return
        if exc is None:
            fut.set_result(ray_fut.result())
        elif died:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            fut.set_exception(WorkerDied(f"the Ray actor running the trial died: {first}"))
        else:
            cause = getattr(exc, "cause", None)
            fut.set_exception(cause if isinstance(cause, BaseException) else exc)

    def kill(self, future: Future[Any]) -> bool:
        # Ray calls are made outside the lock: Ray's callback thread takes it in _done.
        victim = None
        with self._lock:
            for i, f in list(self._busy.items()):
                if f is future:
                    victim = self._actors[i]
                    del self._busy[i]
                    self._spawn(i)
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
