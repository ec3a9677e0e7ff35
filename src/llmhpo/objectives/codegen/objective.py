"""``objective: {type: codegen}`` — the LLM writes the training script (Zhang et al. 2023, §4.3).

Each trial gives the LLM the task (a bundled scikit-learn tabular dataset with a fixed,
standardized train/validation split in ``data.npz``) and the trial's hyperparameters, and asks
for a complete Python script that trains a model with them and prints ``{"val_error": ...}`` as
its last stdout line. The script runs in the sandbox of :mod:`.sandbox` (own process, no
network, read-only filesystem except its scratch directory, CPU/memory/wall-clock limits); when
it fails or prints no metric, the error is sent back to the LLM, which rewrites the script, at
most ``repair_tries`` times. A trial whose scripts all fail is a FAILED trial with the last
error as its text. Every script is kept in the trial's work directory (``attempt_<k>/train.py``)
when the study has one.

The prompt follows the paper's Appendix C (the model and optimizer code is the LLM's; the
environment runs it and returns the validation error or the error for repair); the LLM is any
backend of the LLM optimizer (``llm: {backend: local | openai, ...}``).
"""

from __future__ import annotations

import io
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llmhpo.exceptions import InvalidConfigError
from llmhpo.objectives.codegen.sandbox import SandboxLimits, check_sandbox, run_sandboxed
from llmhpo.space import Float, Int, SearchSpace

__all__ = ["CodegenObjective", "from_config", "default_space", "extract_code"]

_DATASETS = ("breast_cancer", "digits", "wine", "iris")
_FENCE = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.S)


def default_space() -> SearchSpace:
    """The fixed configuration space the paper gives its baselines (depth and width of the
    network, batch size, learning rate, weight decay)."""
    return SearchSpace([
        Int("depth", 1, 3, default=2).describe("number of hidden layers"),
        Int("width", 16, 256, log=True, default=64).describe("units per hidden layer"),
        Int("batch_size", 8, 256, log=True, default=32),
        Float("learning_rate", 1e-4, 1e-1, log=True, default=1e-3),
        Float("weight_decay", 1e-8, 1e-1, log=True, default=1e-4).describe("L2 penalty"),
    ])


def extract_code(text: str) -> str:
    """The Python code of an answer: the longest fenced block, else the whole text."""
    blocks = _FENCE.findall(text)
    return max(blocks, key=len) if blocks else text.strip()


def _split(dataset: str) -> tuple[bytes, dict[str, int]]:
    """The bundled dataset as ``data.npz`` bytes (fixed 75/25 stratified split, standardized
    on the training part) and its shape."""
    import numpy as np
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    X, y = getattr(datasets, f"load_{dataset}")(return_X_y=True)
    Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    mu, sd = Xtr.mean(0), Xtr.std(0) + 1e-12
    buf = io.BytesIO()
    np.savez(buf, X_train=(Xtr - mu) / sd, y_train=ytr, X_val=(Xva - mu) / sd, y_val=yva)
    info = {"n_train": len(ytr), "n_val": len(yva), "n_features": X.shape[1],
            "n_classes": int(len(set(y)))}
    return buf.getvalue(), info


class CodegenObjective:
    """The LLM writes a training script per trial; the script runs sandboxed.

    Args:
        dataset: ``breast_cancer``, ``digits``, ``wine`` or ``iris`` (scikit-learn's bundled).
        llm: backend options (``backend``, ``model``, ``base_url``, ``api_key_env``,
            ``timeout``, ``max_retries``, ``device``) as for ``optimizer: llm``.
        repair_tries: rewrites after a failing script.
        temperature / max_tokens: decoding of each answer.
        cpu_s / memory_mb / wall_s: the sandbox limits of one script run.
    """

    metric = "val_error"

    def __init__(
        self,
        dataset: str = "breast_cancer",
        *,
        llm: Mapping[str, Any] | None = None,
        repair_tries: int = 2,
        temperature: float = 0.0,
        max_tokens: int = 768,
        cpu_s: int = 60,
        memory_mb: int = 2048,
        wall_s: float = 120.0,
    ) -> None:
        if dataset not in _DATASETS:
            raise InvalidConfigError(
                f"objective.dataset must be one of {list(_DATASETS)}, got {dataset!r}"
            )
        if not isinstance(repair_tries, int) or repair_tries < 0:
            raise InvalidConfigError(
                f"objective.repair_tries must be a non-negative integer, got {repair_tries!r}"
            )
        self.dataset = dataset
        self.llm = dict(llm or {})
        self.repair_tries = repair_tries
        self.temperature = float(temperature)
        self.max_tokens = int(max_tokens)
        self.limits = SandboxLimits(cpu_s=int(cpu_s), memory_mb=int(memory_mb),
                                    wall_s=float(wall_s))
        self._backend: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_backend"] = None  # rebuilt in the worker (holds clients / compiled grammars)
        return state

    @property
    def description(self) -> str:
        return f"a classifier written in Python for the {self.dataset} dataset"

    def backend(self) -> Any:
        if self._backend is None:
            from llmhpo.optimizers.llm.backends import make_backend

            opts = dict(self.llm)
            try:
                self._backend = make_backend(opts.pop("backend", "local"), **opts)
            except TypeError as exc:
                raise InvalidConfigError(f"objective.llm: {exc}") from None
        return self._backend

    def preflight(self) -> None:
        """The sandbox exists and the LLM answers, before any trial is recorded."""
        check_sandbox()
        self.backend().preflight()

    def prompt(self, params: Mapping[str, Any], info: Mapping[str, int]) -> list[dict[str, str]]:
        hp = ", ".join(f"{k} = {v!r}" for k, v in params.items())
        return [
            {"role": "system", "content": "You are a machine learning expert."},
            {"role": "user", "content": (
                "Write a complete Python script that trains a classifier. The data is in "
                "'data.npz' in the current directory: numpy arrays X_train, y_train, X_val, "
                f"y_val ({info['n_train']} training and {info['n_val']} validation rows, "
                f"{info['n_features']} standardized float features, integer labels "
                f"0..{info['n_classes'] - 1}). Use only numpy and scikit-learn; do not use the "
                "network or files outside the current directory. Train a neural network with "
                f"these hyperparameters: {hp}. As the last line of its output the script must "
                'print one JSON object: {"val_error": <1 - accuracy on X_val, y_val>}. Answer '
                "with the script only, in one ```python code block."
            )},
        ]

    def __call__(self, params: Mapping[str, Any], ctx: Any = None) -> dict[str, float]:
        data, info = _split(self.dataset)
        messages = self.prompt(params, info)
        workdir = None
        if ctx is not None and getattr(ctx, "workdir", None):
            workdir = ctx.path()
        tmp = None
        if workdir is None:
            tmp = tempfile.TemporaryDirectory(prefix="llmhpo-codegen-")
            workdir = Path(tmp.name)
        seed = int(getattr(ctx, "seed", 0) or 0)
        tokens_in = tokens_out = 0
        error = "no attempt"
        try:
            for attempt in range(1 + self.repair_tries):
                c = self.backend().complete(messages, None, temperature=self.temperature,
                                            max_tokens=self.max_tokens,
                                            seed=seed * 101 + attempt)
                tokens_in += c.tokens_in
                tokens_out += c.tokens_out
                code = extract_code(c.text)
                res = run_sandboxed(code, Path(workdir) / f"attempt_{attempt}",
                                    limits=self.limits, files={"data.npz": data})
                if res.metrics is not None and self.metric in res.metrics:
                    return {self.metric: res.metrics[self.metric], "attempts": attempt + 1,
                            "llm_tokens_in": tokens_in, "llm_tokens_out": tokens_out,
                            "script_s": round(res.wall_s, 3)}
                error = res.error or f"no {self.metric!r} in the metric line {res.metrics}"
                detail = res.stderr_tail.strip()[-1500:]
                messages = [*messages, {"role": "assistant", "content": c.text},
                            {"role": "user", "content": (
                                f"Running the script failed: {error}.\n{detail}\nFix the "
                                "script; answer with the complete script only, in one "
                                "```python code block.")}]
        finally:
            if tmp is not None:
                tmp.cleanup()
        raise RuntimeError(f"no working script after {1 + self.repair_tries} attempt(s); "
                           f"last error: {error}")


def from_config(cfg: Mapping[str, Any]) -> Any:
    """``objective: {type: codegen, dataset: ..., llm: {...}, ...}`` -> ObjectiveSpec."""
    from llmhpo.objectives.registry import ObjectiveSpec

    try:
        obj = CodegenObjective(**dict(cfg))
    except TypeError as exc:
        raise InvalidConfigError(f"objective (codegen): {exc}") from None
    return ObjectiveSpec(obj, default_space(), "minimize", "val_error")
