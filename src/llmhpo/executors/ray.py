"""Run calls on a Ray cluster (or a local Ray instance) through long-lived actors.

Each of the ``n_workers`` actors runs one call at a time and lives across calls, so an
objective can keep its base model loaded between trials, as with the process pool. Each actor
reserves the resources of one trial (CPUs, GPUs, custom resources such as a node label), so
Ray places it on a node that has them. Calls are queued on the driver and given to an idle
actor; a call over its time limit is stopped by killing its actor, which is then replaced. An
actor that dies under a call (its process killed, OOM-killed, its node lost) is replaced the
same way (the replacement waits until the cluster has room for it) and the call is run once
more, before queued calls, on a live actor: the new one or another idle one (``retries``), as
in the process pool; a call whose actor died on every run fails with
:class:`~llmhpo.executors.WorkerDied`.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from llmhpo._imports import require
from llmhpo.executors.base import TaskQueue, WorkerDied, mark_queued, mark_started
from llmhpo.validation import check_int

__all__ = ["RayExecutor"]

_logger = logging.getLogger("llmhpo")

_Task = tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]

#: Ray errors that mean the process (or node) running a call is gone, not that the call
#: raised; the names missing from the installed Ray are skipped.
_DEATH_ERRORS = (
    "RayActorError",  # ActorDiedError, ActorUnavailableError: the actor's process is gone
    "WorkerCrashedError",
    "NodeDiedError",
    "LocalRayletDiedError",
    "OutOfMemoryError",  # Ray's memory monitor killed the worker
)


def _death_errors(ray: Any) -> tuple[type[BaseException], ...]:
    """The classes of :data:`_DEATH_ERRORS` that ``ray.exceptions`` defines."""
    found = (getattr(ray.exceptions, name, None) for name in _DEATH_ERRORS)
    return tuple(cls for cls in found if isinstance(cls, type))


def _first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message (Ray's are long), or its type's name."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _make_actor_class(
    ray: Any, num_cpus: float, num_gpus: float, resources: dict[str, float]
) -> Any:
    # max_restarts=0 (no max_task_retries): a dead actor is replaced and its call retried by
    # RayExecutor, not by Ray. Ray's restarts count over the actor's whole life, not per call;
    # a call Ray retries is invisible to the driver, so the retry's time limit could not start
    # afresh (mark_started) nor the failure say how many runs died; and a restarted actor is
    # not pinged first, so a retry placed on a dying node would spend the retry.
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

    A call whose actor died under it (process killed, OOM-killed, node lost) is run again on a
    live actor (the new one or another idle one), ``retries`` times at most, before it fails with
    :class:`~llmhpo.executors.WorkerDied` (``... (it died on each of 2 runs of this call)``);
    calls stopped by :meth:`kill` (time limits) are not retried. This is the process pool's
    rule: a worker's death is not necessarily the trial's fault.

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
        retries: times a call is run again after its actor died (default 1).
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
        retries: int = 1,
    ) -> None:
        self.n_workers = check_int("n_workers", n_workers, low=1, high=1024)
        self.retries = check_int("retries", retries, low=0, high=10)
        self._ray = require("ray", feature="the Ray executor")
        if not self._ray.is_initialized():
            kwargs = {"include_dashboard": False, "log_to_driver": True, **(init_kwargs or {})}
            self._ray.init(address=address, **kwargs)
        self._deaths = _death_errors(self._ray)
        self._cls = _make_actor_class(
            self._ray, num_cpus_per_trial, num_gpus_per_trial, dict(resources or {})
        )
        # reentrant: a Ray future already resolved runs its callback (which takes the lock)
        # inside add_done_callback
        self._lock = threading.RLock()
        self._actors: list[Any] = [None] * n_workers
        self._ready: set[int] = set()  # actor indices that answered, so can take a call
        self._busy: dict[int, _Task] = {}  # actor index -> the call it runs
        self._queue = TaskQueue()
        self._again: deque[_Task] = deque()  # calls whose actor died, to run again first
        self._runs: dict[int, int] = {}  # id(future) -> runs started
        self._closed = False
        self.n_started = 0  #: actors started so far (replacements included)
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
        self.n_started += 1
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
            mark_queued(fut)
            self._dispatch()
        return fut

    def _next_task(self) -> _Task | None:
        """A call to run again after its actor died, else the oldest queued call."""
        if self._again:
            return self._again.popleft()
        return self._queue.pop()

    def _dispatch(self) -> None:
        for i in range(len(self._actors)):
            if i in self._busy or i not in self._ready:
                continue
            task = self._next_task()
            if task is None:
                return
            fut, fn, args = task
            self._busy[i] = task
            self._runs[id(fut)] = self._runs.get(id(fut), 0) + 1
            mark_started(fut)  # the actor answered its ping: the call starts now
            ray_fut = self._actors[i].run.remote(fn, args).future()
            ray_fut.add_done_callback(lambda rf, i=i, task=task: self._done(i, task, rf))

    def _done(self, index: int, task: _Task, ray_fut: Future[Any]) -> None:
        fut = task[0]
        exc = ray_fut.exception()
        died = isinstance(exc, self._deaths)
        with self._lock:
            if self._busy.get(index) is not task:
                return  # killed and replaced already
            del self._busy[index]
            dead = None
            if died and not self._closed:  # the actor's process or node is gone: replace it
                dead = self._actors[index]
                self._spawn(index)
            retry = died and self._retry(task, exc)
            runs = self._runs.get(id(fut), 1) if retry else self._runs.pop(id(fut), 1)
            if not self._closed:
                self._dispatch()
        if dead is not None:  # make sure it is gone (its resources freed); not in this
            # thread: ray.kill from Ray's callback thread blocks it
            threading.Thread(target=self._ray.kill, args=(dead,), kwargs={"no_restart": True},
                             daemon=True).start()
        if retry or fut.done():
            return
        if exc is None:
            fut.set_result(ray_fut.result())
        elif died:
            fut.set_exception(self._died_error(exc, runs))
        else:
            cause = getattr(exc, "cause", None)
            fut.set_exception(cause if isinstance(cause, BaseException) else exc)

    def _retry(self, task: _Task, exc: BaseException | None) -> bool:
        """Queue ``task`` to run again first if its actor died and it has retries left."""
        fut = task[0]
        if self._closed or fut.done() or self._runs.get(id(fut), 1) > self.retries:
            return False
        _logger.warning("the Ray actor running a call died (%s); running it again on a new "
                        "actor", _first_line(exc) if exc else "?")
        mark_queued(fut)  # its time limit counts afresh from the retry's start
        self._again.append(task)
        return True

    @staticmethod
    def _died_error(exc: BaseException, runs: int) -> WorkerDied:
        """The error of a call whose actor died on each of its ``runs`` runs."""
        text = f"the Ray actor running the trial died: {_first_line(exc)}"
        if runs > 1:
            text += f" (it died on each of {runs} runs of this call)"
        return WorkerDied(text)

    def kill(self, future: Future[Any]) -> bool:
        # Ray calls are made outside the lock: Ray's callback thread takes it in _done.
        victim = None
        with self._lock:
            for i, task in list(self._busy.items()):
                if task[0] is future:
                    victim = self._actors[i]
                    del self._busy[i]
                    self._runs.pop(id(future), None)
                    self._spawn(i)
                    break
            else:
                return self._unqueue(future)
            self._dispatch()
        self._ray.kill(victim, no_restart=True)
        if not future.done():
            future.set_exception(WorkerDied("call stopped by the driver"))
        return True

    def _unqueue(self, future: Future[Any]) -> bool:
        """Drop ``future`` if it waits for an actor (to run again, or at all)."""
        for task in self._again:
            if task[0] is future:
                self._again.remove(task)
                self._runs.pop(id(future), None)
                future.set_exception(WorkerDied("call stopped by the driver"))
                return True
        return self._queue.cancel(future)

    def shutdown(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.cancel_all()
            again, self._again = list(self._again), deque()
            actors, self._actors = self._actors, []
        for fut, _, _ in again:
            if not fut.done():
                fut.set_exception(WorkerDied("the executor was shut down"))
        for a in actors:
            self._ray.kill(a, no_restart=True)
