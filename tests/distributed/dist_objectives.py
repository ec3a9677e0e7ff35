"""Objectives of the distributed tests (importable by spawned workers and Ray actors)."""

from __future__ import annotations

import json
import os
import time
from typing import Any


def sleep_and_log(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Sleep ``LLMHPO_TEST_SLEEP`` seconds, append the result to ``LLMHPO_TEST_LOG``, return it.

    The log is the ground truth of every evaluation that returned: a result in it that the
    study does not hold was lost.
    """
    time.sleep(float(os.environ.get("LLMHPO_TEST_SLEEP", "0.3")))
    value = (params["x"] - 0.3) ** 2 + (params["y"] - 0.6) ** 2
    line = json.dumps({"number": ctx.number, "value": value, "pid": os.getpid()})
    log = os.environ.get("LLMHPO_TEST_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as fh:  # O_APPEND: one line per write
            fh.write(line + "\n")
    return {"value": value, "pid": os.getpid()}



def where_am_i(
    params: dict[str, Any], ctx: Any, *, sleep: float = 0.2, die_at: int = -1,
    marker: str | None = None,
) -> dict[str, Any]:
    """Sleep, then report the Ray node and process that ran the trial.

    Trial number ``die_at`` kills its own process mid-trial (an actor lost under a call);
    ``marker`` is a path prefix: ``<marker>.<number>`` is written when the trial starts.
    """
    import signal

    import ray

    node = ray.get_runtime_context().get_node_id()
    if marker:
        with open(f"{marker}.{ctx.number}", "w", encoding="utf-8") as fh:
            fh.write(node)
    if ctx.number == die_at:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(sleep)
    return {"value": float(params["x"]), "node": node, "pid": os.getpid()}
