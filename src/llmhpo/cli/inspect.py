"""``llmhpo status | best | export``: look into stored studies."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from llmhpo.exceptions import IncompleteStudyError
from llmhpo.validation import check_output_file

__all__ = ["register", "resolve_study"]


def register(sub: argparse._SubParsersAction) -> None:
    for name, help_text, func in (
        ("status", "trials done/budget, states and best value of each study", _status),
        ("best", "the best trial of a study", _best),
        ("export", "write every trial of a study as CSV", _export),
    ):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument(
            "target", nargs="?", help="a run config YAML or a storage URL (instead of --storage)"
        )
        p.add_argument("--storage", help="storage URL (default sqlite:///llmhpo.db)")
        p.add_argument("--study-name", dest="study_name", help="default: the only study")
        if name == "best":
            p.add_argument("--json", action="store_true", help="print JSON")
        if name == "export":
            p.add_argument("-o", "--output", help="CSV path (default: stdout)")
            p.add_argument(
                "--conversation", action="store_true",
                help="write the LLM optimizer's prompts and answers as JSON lines instead",
            )
        p.set_defaults(func=func)


def resolve_study(args: argparse.Namespace, name: str | None = None) -> Any:
    """Open the study named by ``--study-name`` (or ``name``, or the only one) of the target
    (a run config or a storage) or ``--storage``, read-only: reading needs no optimizer extra.
    """
    from llmhpo.assembly import open_study

    target = args.target
    if target and not target.endswith((".yaml", ".yml")):
        target = None if args.storage else target
    study, _ = open_study(target, name or args.study_name, storage=args.storage, read_only=True)
    return study


def _status(args: argparse.Namespace) -> int:
    from llmhpo.assembly import study_names

    if args.study_name or (args.target and args.target.endswith((".yaml", ".yml"))):
        studies = [resolve_study(args)]
    else:
        storage = args.storage or args.target or "sqlite:///llmhpo.db"
        names = study_names(storage)
        if not names:
            print(f"no study in {storage}")
        studies = []
        for n in names:
            try:
                studies.append(resolve_study(args, n))
            except IncompleteStudyError as exc:
                print(f"{n}: {exc}")
    for study in studies:
        n = study.study_name
        trials = [t for t in study.trials if not t.warm_start]
        counts = Counter(t.state.value for t in trials)
        best = study.best_trial
        best_txt = "-" if best is None else f"{best.value:.6g} (trial {best.number})"
        states = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no trials"
        print(
            f"{n}: {study.n_finished}/{study.budget} trials ({states}); "
            f"optimizer {_optimizer_text(study)}; {study.direction} "
            f"{study.metric or 'value'}; best {best_txt}{_compute_text(study, trials)}"
            + _llm_usage_text(trials)
        )
        from llmhpo.evaluation.repro import get_repro

        records = get_repro(study)
        if records:
            from llmhpo.reporting.repro import repro_text

            print(repro_text(records))
    return 0


def _compute_text(study: Any, trials: list[Any]) -> str:
    """``; compute 123/300 steps (scheduler asha)`` for a study whose trials reported
    learning curves (their last steps are the compute spent); empty otherwise."""
    from llmhpo.study.scheduling import compute_spent

    sched, budget = study.scheduler, study.compute_budget
    if not any(t.intermediate for t in trials) and budget is None:
        return ""
    spent = compute_spent(trials, sched.max_resource)
    of = "" if budget is None else f"/{budget:g}"
    via = "" if sched.name == "none" else f" (scheduler {sched.name})"
    return f"; compute {spent:g}{of} steps{via}"


def llm_usage(trials: list[Any]) -> dict[str, Any] | None:
    """LLM queries, tokens in/out, latency and cost summed over trials (``None``: no LLM)."""
    rows = [t.attrs for t in trials if "llm_queries" in t.attrs]
    if not rows:
        return None
    out: dict[str, Any] = {"queries": 0, "tokens_in": 0, "tokens_out": 0, "latency_s": 0.0,
                           "cost": 0.0}
    for a in rows:
        for k in out:
            out[k] += a.get(f"llm_{k}", 0) or 0
    out["proposals"] = dict(Counter(str(a.get("proposal", "?")) for a in rows))
    return out


def _llm_usage_text(trials: list[Any]) -> str:
    u = llm_usage(trials)
    if u is None:
        return ""
    props = ", ".join(f"{k} {v}" for k, v in sorted(u["proposals"].items()))
    return (
        f"; LLM {u['queries']} queries, tokens in/out {u['tokens_in']}/{u['tokens_out']}, "
        f"latency {u['latency_s']:.1f} s, cost ${u['cost']:.4f} (proposals: {props})"
    )


def _optimizer_text(study: Any) -> str:
    name = study.optimizer_config.get("name", "random")
    switches = study.optimizer_switches
    if switches:
        first = switches[0]["from"].get("name")
        return f"{name} (switched from {first} at trial {switches[-1]['at_trial']})"
    return str(name)


def _best(args: argparse.Namespace) -> int:
    study = resolve_study(args)
    best = study.best_trial
    if best is None:
        print(f"study {study.study_name!r} has no complete trial yet", file=sys.stderr)
        return 1
    if args.json:
        print(
            json.dumps(
                {
                    "number": best.number,
                    "value": best.value,
                    "params": best.params,
                    "metrics": best.metrics,
                },
                default=str,
            )
        )
    else:
        print(f"trial {best.number}: {study.metric or 'value'} = {best.value:.6g}")
        for k, v in best.params.items():
            print(f"  {k} = {v}")
    return 0


def _conversation_lines(study: Any) -> list[str]:
    """One JSON line per LLM exchange: trial, attempt, the messages sent and the answer."""
    lines = []
    for t in study.trials:
        for i, ex in enumerate(t.attrs.get("llm_log") or ()):
            lines.append(json.dumps({
                "trial": t.number, "state": t.state.value, "proposal": t.attrs.get("proposal"),
                "attempt": i, **ex,
            }, default=str))
    return lines


def _export(args: argparse.Namespace) -> int:
    if args.output:
        check_output_file("--output", args.output)  # before anything is opened
    study = resolve_study(args)
    if args.conversation:
        text = "".join(line + "\n" for line in _conversation_lines(study))
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
            print(f"wrote {text.count(chr(10))} exchanges to {args.output}", file=sys.stderr)
        else:
            sys.stdout.write(text)
        return 0
    if args.output:
        path = study.to_csv(args.output)
        print(f"wrote {len(study.trials)} trials to {path}", file=sys.stderr)
        return 0
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = study.to_csv(Path(tmp) / "trials.csv")
        sys.stdout.write(open(path, encoding="utf-8").read())
    return 0
