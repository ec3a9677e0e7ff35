"""Metric names, their directions, and how metric values and tables of them are written as
text: the vocabulary shared by the study (ranking), evaluation and reporting."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from llmhpo.exceptions import InvalidConfigError

__all__ = [
    "infer_direction",
    "parse_metric_directions",
    "as_number",
    "better",
    "format_metric",
    "format_param",
    "render_table",
]

# Substrings of metric names whose direction is unambiguous. Checked in order: "loss" before
# "acc" so that "acc_loss" would minimize; names are lower-cased first.
_MINIMIZE = ("loss", "perplexity", "ppl", "error", "err_rate", "regret", "wall_time", "time_s",
             "memory", "mem_", "latency", "seconds", "stderr")
_MAXIMIZE = ("acc", "exact_match", "f1", "bleu", "rouge", "score", "tokens_per_s", "throughput",
             "mcc", "auc", "pass@", "precision", "recall", "reward", "win_rate")


def infer_direction(metric: str) -> str | None:
    """``"minimize"``/``"maximize"`` when the name makes it plain (``val_loss``, ``mmlu/acc``)."""
    low = metric.lower()
    for key in _MINIMIZE:
        if key in low:
            return "minimize"
    for key in _MAXIMIZE:
        if key in low:
            return "maximize"
    return None


def _norm_direction(metric: str, d: str) -> str:
    t = d.strip().lower()
    if t in ("min", "minimize", "lower", "-"):
        return "minimize"
    if t in ("max", "maximize", "higher", "+"):
        return "maximize"
    raise InvalidConfigError(
        f"direction of metric {metric!r} must be 'minimize' or 'maximize' (or min/max), got {d!r}"
    )


def parse_metric_directions(
    metrics: Mapping[str, str | None] | Sequence[str] | str | None,
) -> dict[str, str]:
    """Normalize metric specs to ``{name: direction}``.

    Accepts a mapping, a list, or a comma-separated string; an item may carry its direction
    after a colon (``"test_loss:min"``). Without one the direction is inferred from the name.

    Raises:
        InvalidConfigError: a direction is neither given nor inferable.
    """
    if metrics is None:
        return {}
    items: list[tuple[str, str | None]]
    if isinstance(metrics, str):
        metrics = [m for m in metrics.split(",") if m.strip()]
    if isinstance(metrics, Mapping):
        items = [(str(k), v) for k, v in metrics.items()]
    else:
        items = []
        for m in metrics:
            name, _, d = str(m).strip().rpartition(":") if ":" in str(m) else (str(m), "", "")
            if name and d and d.strip().lower() in (
                "min", "max", "minimize", "maximize", "lower", "higher"
            ):
                items.append((name.strip(), d))
            else:
                items.append((str(m).strip(), None))
    out: dict[str, str] = {}
    for name, d in items:
        if d is None:
            d = infer_direction(name)
            if d is None:
                raise InvalidConfigError(
                    f"cannot tell whether metric {name!r} is to be minimized or maximized; "
                    f"write it as '{name}:min' or '{name}:max'"
                )
        out[name] = _norm_direction(name, d)
    return out


def as_number(v: Any) -> float | None:
    """A finite float, or ``None`` for missing, non-numeric, NaN or infinite values."""
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def better(a: float, b: float, direction: str) -> bool:
    """True if ``a`` is strictly better than ``b`` in ``direction``."""
    return a < b if direction == "minimize" else a > b


def format_metric(v: Any) -> str:
    """Four significant digits for numbers (``3.000``, ``0.1000``), ``-`` for missing values."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    f = as_number(v)
    if f is None:
        return str(v)
    return f"{f:#.4g}"


def _is_learning_rate(name: str) -> bool:
    low = name.lower()
    return low in ("lr", "eta") or "learning_rate" in low or low.endswith("_lr")


def format_param(name: str, v: Any, *, log: bool = False) -> str:
    """Compact hyperparameter text: 3 significant digits; learning rates and log-scaled
    floats in scientific notation (``1.00e-04``)."""
    if v is None:
        return "-"
    if isinstance(v, (bool, str)):
        return str(v)
    if isinstance(v, int):
        return str(v)
    f = as_number(v)
    if f is None:
        return str(v)
    if f != 0 and (_is_learning_rate(name) or log):
        return f"{f:.2e}"
    if f == int(f) and abs(f) < 1e6:
        return str(int(f))
    return f"{f:.3g}"


def render_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], fmt: str = "markdown"
) -> str:
    """Align cells in columns; ``fmt`` is ``"markdown"`` (pipe table) or ``"plain"``."""
    if fmt not in ("markdown", "plain"):
        raise InvalidConfigError(f"table format must be 'markdown' or 'plain', got {fmt!r}")
    cells = [list(map(str, headers))] + [list(map(str, r)) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: Sequence[str]) -> str:
        padded = [c.ljust(w) for c, w in zip(r, widths, strict=True)]
        if fmt == "markdown":
            return "| " + " | ".join(padded) + " |"
        return "  ".join(padded).rstrip()

    out = [line(cells[0])]
    if fmt == "markdown":
        out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    else:
        out.append("  ".join("-" * w for w in widths))
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)
