"""``llmhpo report``: write a study's report and print its results table and verdict.

Usage::

    llmhpo report run.yaml --out report/
    llmhpo report study.db --study-name lora --test-metrics test_accuracy:max
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from llmhpo.assembly import open_study
    from llmhpo.cli.assess import _csv
    from llmhpo.reporting.report import summary_text, write_report
    from llmhpo.validation import bad_value, check_output_dir

    if args.out:
        check_output_dir("--out", args.out)
    if args.top_k < 1:
        raise bad_value("--top-k", args.top_k, "a positive integer")
    study, _ = open_study(args.target, args.study_name)
    tests = _csv(args.test_metrics)
    metrics = _csv(args.metrics) or []
    text, verdict = summary_text(
        study, top_k=args.top_k, test_metrics=tests, metrics=metrics, fmt=args.format
    )
    print(text)
    if args.out:
        paths = write_report(study, args.out, top_k=args.top_k, test_metrics=tests,
                             metrics=metrics)
        print("\nReport written: " + ", ".join(str(p) for p in paths.values()))
        print(f"Open {paths['html']} in a browser.")
    return 0


def register(subparsers: Any) -> None:
    """Add the ``report`` subcommand."""
    p = subparsers.add_parser(
        "report", help="print the results table and verdict of a study; write its report",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.add_argument("target", metavar="CONFIG_OR_STORAGE",
                   help="the run configuration YAML, or a storage (study.db, sqlite:///...)")
    p.add_argument("--study-name", dest="study_name",
                   help="study name (default: the config's, or the only one stored)")
    p.add_argument("--out", help="write report.html (the whole report, one self-contained page), "
                   "history.png, parallel_coordinates.png, results.md and trials.csv into "
                   "this directory")
    p.add_argument("--top-k", type=int, default=5, help="best trials listed (default 5)")
    p.add_argument("--test-metrics",
                   help="held-out test metrics, optionally with :min/:max (default: test_*)")
    p.add_argument("--metrics", help="further metrics to show, comma-separated")
    p.add_argument("--format", choices=("markdown", "plain"), default="plain")
    p.set_defaults(func=_run)
