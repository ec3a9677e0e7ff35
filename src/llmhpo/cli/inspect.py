"""``llmhpo status | best | export``: look into stored studies."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from llmhpo.exceptions import IncompleteStudyError, StudyNotFoundError
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


def _storage_and_name(args: argparse.Namespace) -> tuple[str, str | None]:
    storage, name = args.storage, args.study_name
    target = getattr(args, "target", None)
    if target and (target.endswith((".yaml", ".yml")) and Path(target).is_file()):
        from llmhpo.config import load_config

        cfg = load_config(target)
        storage = storage or cfg.storage
        name = name or cfg.study_name
    elif target:
        storage = storage or target
    return storage or "sqlite:///llmhpo.db", name


def _study_names(storage: str) -> list[str]:
    from llmhpo.study.storage import open_storage

    if storage.startswith("sqlite:///") and not Path(storage[len("sqlite:///") :]).exists():
        raise StudyNotFoundError(f"no database at {storage!r}")
    return [s.study_name for s in open_storage(storage, create=False).get_all_studies()]


def resolve_study(storage: str, name: str | None) -> Any:
    """Load study ``name`` (or the only study) from ``storage``, with clear errors."""
    from llmhpo.study import load_study

    names = _study_names(storage)
    if name is None:
        if len(names) != 1:
            raise StudyNotFoundError(
                f"{storage!r} holds {len(names)} studies {names}; choose one with --study-name"
            )
        name = names[0]
    if name not in names:
        raise StudyNotFoundError(f"no study named {name!r} in {storage!r}; studies: {names}")
    return load_study(name, storage)


def _status(args: argparse.Namespace) -> int:
    storage, name = _storage_and_name(args)
    names = [name] if name else _study_names(storage)
    if not names:
        print(f"no study in {storage}")
    for n in names:
        try:
            study = resolve_study(storage, n)
        except IncompleteStudyError as exc:
            print(f"{n}: {exc}")
            continue
        trials = [t for t in study.trials if not t.warm_start]
        counts = Counter(t.state.value for t in trials)
        best = study.best_trial
        best_txt = "-" if best is None else f"{best.value:.6g} (trial {best.number})"
        states = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no trials"
        print(
            f"{n}: {study.n_finished}/{study.budget} trials ({states}); "
            f"optimizer {study.optimizer.name}; {study.direction} "
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


def _best(args: argparse.Namespace) -> int:
    storage, name = _storage_and_name(args)
    study = resolve_study(storage, name)
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
    storage, name = _storage_and_name(args)
    study = resolve_study(storage, name)
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
