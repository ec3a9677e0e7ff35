"""Adapters as trial artifacts: saved per trial, the best k kept under a disk budget, exported.

A trial with a work directory saves its LoRA adapter to ``<workdir>/adapter`` (PEFT's
``save_pretrained`` format, plus ``llmhpo_adapter.json`` naming the base model) and reports
the path as the metric ``adapter_path``. :class:`KeepBestAdapters`, a study callback, deletes
the adapters of all but the best ``k`` trials and, beyond that, the worst kept ones while their
total size exceeds ``max_disk_mb``. :func:`export_adapter` copies the best (or a given) trial's
adapter, or merges it into the base model and saves a full model. :func:`saved_adapter` and
:func:`loaded_adapter` let ``llmhpo assess`` evaluate a kept adapter instead of re-training.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from llmhpo.exceptions import InvalidConfigError

__all__ = [
    "ADAPTER_DIR",
    "save_adapter",
    "saved_adapter",
    "loaded_adapter",
    "dir_size_mb",
    "KeepBestAdapters",
    "export_adapter",
]

_logger = logging.getLogger("llmhpo.objectives.lora")

ADAPTER_DIR = "adapter"
_META = "llmhpo_adapter.json"


def save_adapter(peft_model: Any, dest: str | Path, model_spec: str) -> Path:
    """Save the adapter of ``peft_model`` to ``dest``, with the base model's name beside it."""
    dest = Path(dest)
    peft_model.save_pretrained(str(dest))
    (dest / _META).write_text(json.dumps({"model": model_spec}), encoding="utf-8")
    return dest


def saved_adapter(workdir: str | Path | None, model_spec: str) -> Path | None:
    """The adapter saved in a trial's work directory for the base model ``model_spec``, or
    ``None`` when there is none (not saved, deleted by :class:`KeepBestAdapters`, or saved
    for another base model)."""
    if workdir is None:
        return None
    path = Path(workdir) / ADAPTER_DIR
    meta = path / _META
    if not (path / "adapter_config.json").is_file() or not meta.is_file():
        return None
    try:
        saved_for = json.loads(meta.read_text(encoding="utf-8")).get("model")
    except (OSError, ValueError):
        return None
    if saved_for != model_spec:
        _logger.warning("adapter %s was saved for model %r, not %r: not used",
                        path, saved_for, model_spec)
        return None
    return path


@contextlib.contextmanager
def loaded_adapter(model: Any, path: str | Path) -> Iterator[Any]:
    """Load the saved adapter at ``path`` onto ``model`` (frozen) for the block; remove it
    afterwards, leaving ``model`` as it was."""
    from peft import PeftModel

    from llmhpo.objectives.lora.train import remove_adapter

    peft_model = PeftModel.from_pretrained(model, str(path), is_trainable=False)
    try:
        yield peft_model.eval()
    finally:
        remove_adapter(peft_model, model)


def dir_size_mb(path: str | Path) -> float:
    """Total size of the files under ``path`` in MiB (0 if it does not exist)."""
    p = Path(path)
    if not p.exists():
        return 0.0
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) / 2**20


def _on_disk(trial: Any) -> bool:
    path = trial.metrics.get("adapter_path")
    return isinstance(path, str) and bool(path) and Path(path).is_dir()


def _written_by_study(trial: Any, root: str | Path | None) -> bool:
    """True when the trial's adapter is one this study wrote: the trial ran here (not a
    warm-start import, whose path belongs to another study), its adapter lies in its own
    ``trial_<number>`` directory, and that directory is under ``root`` (when given)."""
    if getattr(trial, "warm_start", False):
        return False
    path = Path(trial.metrics["adapter_path"]).resolve()
    if path.parent.name != f"trial_{trial.number}":
        return False
    if root is None:
        return True
    return path.is_relative_to(Path(root).resolve())


class KeepBestAdapters:
    """Study callback ``cb(study, trial)``: keep only the adapters of the best ``k`` trials
    whose total size fits ``max_disk_mb``; delete every other saved adapter.

    Only adapters this study wrote are deleted: never those of warm-start imports (another
    study's files), never a path outside the trial's own ``trial_<n>`` directory under
    ``root``.

    Args:
        k: adapters kept at most (0 deletes every adapter).
        max_disk_mb: disk budget of the kept adapters in MiB (``None``: no budget); the worst
            kept adapters are deleted until the rest fit.
        root: the study's work directory (``execution.workdir``); adapters outside it are
            never deleted.

    The ranking is the study's own (:func:`~llmhpo.study.ranking.ranked_trials`: its
    direction, ties to the earlier trial).
    """

    def __init__(
        self, k: int = 3, max_disk_mb: float | None = None, root: str | Path | None = None
    ) -> None:
        if not isinstance(k, int) or isinstance(k, bool) or k < 0:
            raise InvalidConfigError(f"keep_best_k must be a non-negative integer, got {k!r}")
        if max_disk_mb is not None and not (
            isinstance(max_disk_mb, (int, float)) and max_disk_mb >= 0
        ):
            raise InvalidConfigError(f"max_disk_mb must be >= 0 or null, got {max_disk_mb!r}")
        self.k = k
        self.max_disk_mb = max_disk_mb
        self.root = root

    def __call__(self, study: Any, trial: Any) -> None:
        from llmhpo.study.ranking import ranked_trials

        # only what this study wrote under its work directory is ever deleted: warm-start
        # imports carry the paths of another study's adapters
        saved = [t for t in study.trials if _on_disk(t) and _written_by_study(t, self.root)]
        keep = [t for t in ranked_trials(study) if _on_disk(t)][:self.k]
        if self.max_disk_mb is not None:
            sizes = {t.number: dir_size_mb(t.metrics["adapter_path"]) for t in keep}
            while keep and sum(sizes[t.number] for t in keep) > self.max_disk_mb:
                keep.pop()
        kept = {t.number for t in keep}
        for t in saved:  # includes failed trials' adapters: not worth keeping
            if t.number not in kept:
                _logger.info("Deleting the adapter of trial %d (not among the best)", t.number)
                shutil.rmtree(t.metrics["adapter_path"], ignore_errors=True)


def export_adapter(
    study: Any, trial_number: int | None, dest: str | Path, merge: bool = False
) -> Path:
    """Copy a trial's adapter to ``dest``, or merge it into its base model and save that.

    Args:
        study: the study.
        trial_number: the trial (``None``: the best trial).
        dest: destination directory (must not exist yet).
        merge: save the full model with the adapter merged (``merge_and_unload``) and its
            tokenizer, instead of the adapter alone.

    Raises:
        InvalidConfigError: no such trial, its adapter was not saved or was deleted, or
            ``dest`` exists.
    """
    trial = study.best_trial if trial_number is None else next(
        (t for t in study.trials if t.number == trial_number), None)
    if trial is None:
        what = "completed" if trial_number is None else str(trial_number)
        raise InvalidConfigError(f"no trial {what} in study {study.study_name!r}")
    if not _on_disk(trial):
        raise InvalidConfigError(
            f"trial {trial.number} has no saved adapter ({trial.metrics.get('adapter_path')!r}); "
            "run with execution.workdir set and keep_best_k large enough to keep it"
        )
    src = Path(trial.metrics["adapter_path"])
    dest = Path(dest)
    if dest.exists():
        raise InvalidConfigError(f"export destination {str(dest)!r} already exists")
    if not merge:
        shutil.copytree(src, dest)
        return dest
    from peft import PeftModel

    from llmhpo.objectives.lora.model import load_model

    spec = json.loads((src / _META).read_text(encoding="utf-8"))["model"]
    base, tok = load_model(spec, "cpu")
    merged = PeftModel.from_pretrained(base, str(src)).merge_and_unload()
    merged.save_pretrained(str(dest))
    tok.save_pretrained(str(dest))
    return dest
