"""The child process of :mod:`llmhpo.optimizers._recast`: one ``PyNomad.optimize`` run.

Run as a script (``python _nomad_child.py``) so that it needs only the standard library and
PyNomad; see :mod:`llmhpo.optimizers._recast` for the protocol.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def main() -> None:  # pragma: no cover - runs in the child process
    # Keep a private copy of stdout for the protocol and send fd 1 (NOMAD's C++ prints) to
    # stderr, which the parent points at a log file.
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    cfg = json.loads(sys.stdin.readline())
    import PyNomad

    def exchange(points: list[list[float]]) -> list[float | None]:
        proto.write(json.dumps({"block": points}) + "\n")
        line = sys.stdin.readline()
        if not line:  # the parent closed the pipe: abandon the run at once
            os._exit(0)
        values = json.loads(line)["values"]
        if len(values) != len(points):
            raise RuntimeError(f"expected {len(points)} values, got {len(values)}")
        return values

    def coords(x: Any) -> list[float]:
        return [x.get_coord(i) for i in range(x.size())]

    def bb_single(x: Any) -> int:
        try:
            (v,) = exchange([coords(x)])
            if v is None:
                return 0
            x.setBBO(repr(float(v)).encode("utf-8"))
            return 1
        except BaseException as exc:  # never let an exception reach NOMAD's C++ code
            print(f"llmhpo NOMAD bridge error: {exc!r}", file=sys.stderr, flush=True)
            os._exit(3)

    def bb_block(block: Any) -> list[bool]:
        try:
            xs = [block.get_x(k) for k in range(block.size())]
            values = exchange([coords(x) for x in xs])
            out = []
            for x, v in zip(xs, values, strict=True):
                if v is not None:
                    x.setBBO(repr(float(v)).encode("utf-8"))
                out.append(v is not None)
            return out
        except BaseException as exc:
            print(f"llmhpo NOMAD bridge error: {exc!r}", file=sys.stderr, flush=True)
            os._exit(3)

    block = any(
        p.split()[0].upper() == "BB_MAX_BLOCK_SIZE" and int(p.split()[1]) > 1
        for p in cfg["params"]
        if p.strip()
    )
    result = PyNomad.optimize(
        bb_block if block else bb_single, cfg["x0"], cfg["lb"], cfg["ub"], cfg["params"]
    )
    keep = ("x_single_best", "f_single_best", "nb_evals", "nb_iters", "run_flag", "stop_reason")
    done = {k: result.get(k) for k in keep}
    proto.write(json.dumps({"done": done}, default=str) + "\n")
    proto.flush()
    # Wait for the parent to close the pipe so that it always reads "done" first.
    sys.stdin.read()


if __name__ == "__main__":  # pragma: no cover
    main()
