"""Benchmarks: llmhpo optimizers against peers (Optuna) on synthetic, ML and LLM suites.

Entry point: ``llmhpo bench`` (:mod:`llmhpo.cli.bench`), which uses :func:`run_benchmark`
(:mod:`llmhpo.bench.runner`) and :func:`write_report` (:mod:`llmhpo.bench.report`).
Heavy dependencies (scikit-learn, matplotlib, torch) are imported on first use.
"""

from __future__ import annotations

__all__ = ["run_benchmark", "write_report"]


def __getattr__(name: str):  # lazy re-exports keep ``import llmhpo.bench`` light
    if name == "run_benchmark":
        from llmhpo.bench.runner import run_benchmark

        return run_benchmark
    if name == "write_report":
        from llmhpo.bench.report import write_report

        return write_report
    raise AttributeError(f"module 'llmhpo.bench' has no attribute {name!r}")
