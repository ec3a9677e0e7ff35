"""``llmhpo compare``: judge the tuned models side by side in a browser.

With a run configuration, the answers missing for the current candidates and prompts are
generated first (stored ones are reused); with a storage, the stored answers are served.

Usage::

    llmhpo compare run.yaml                 # generate missing sample answers, then serve
    llmhpo compare runs/study.db --port 8765
    llmhpo compare run.yaml --judge-url http://127.0.0.1:8000/v1 --judge-model qwen --judge-n 30
    llmhpo compare run.yaml --judge-url local --no-serve   # the built-in SmolLM2 as judge
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from llmhpo.assembly import open_study
    from llmhpo.cli.assess import load_objective
    from llmhpo.compare.store import get_answers
    from llmhpo.exceptions import InvalidConfigError

    study, cfg = open_study(args.target, args.study_name)
    stored = get_answers(study)
    objective = load_objective(args.objective, cfg)
    if objective is None and (args.generate or stored is None):
        raise InvalidConfigError(
            f"study {study.study_name!r} has no sample answers yet; pass its run "
            "configuration (not the storage) so that llmhpo compare can generate them"
        )
    if objective is not None:  # generate what is missing (new best trials, other prompts)
        from llmhpo.compare.answers import collect_answers

        workdir = args.workdir or (cfg.execution.workdir if cfg is not None else None)
        stored = collect_answers(study, objective, top_k=args.top_k, n_prompts=args.prompts,
                                 workdir=workdir, refresh=args.generate)
    n_cands = len(stored["candidates"])
    print(f"[llmhpo] {n_cands} candidates, {len(stored['prompts'])} prompts stored with "
          f"study {study.study_name!r}", file=sys.stderr)
    if args.judge_url:
        from llmhpo.compare.judge import LOCAL, judge_pairs

        if args.judge_url == LOCAL:
            args.judge_model = args.judge_model or "smollm2-135m-instruct"
        if not args.judge_model:
            raise InvalidConfigError("--judge-url needs --judge-model (the served model's name)")
        new = judge_pairs(study, args.judge_url, args.judge_model, n=args.judge_n)
        print(f"[llmhpo] LLM judge {args.judge_model}: {len(new)} judgements stored "
              "(apart from human votes)", file=sys.stderr)
    if args.no_serve:
        return 0
    from llmhpo.compare.server import make_server

    server = make_server(study, args.host, args.port)
    print(f"llmhpo compare: open {server.url} in a browser to judge; Ctrl-C to stop "
          "(every judgement is saved as it is made)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    from llmhpo.compare.store import get_votes

    print(f"\n{len(get_votes(study, 'human'))} human judgements stored; `llmhpo report` shows "
          "the ranking.")
    return 0


def register(subparsers: Any) -> None:
    """Add the ``compare`` subcommand."""
    p = subparsers.add_parser(
        "compare", help="judge the answers of the tuned models side by side in a browser",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.add_argument("target", metavar="CONFIG_OR_STORAGE",
                   help="the run configuration YAML, or a storage with stored answers")
    p.add_argument("--study-name", help="study name (default: the config's, or the only one "
                   "stored)")
    p.add_argument("--top-k", type=int, default=2,
                   help="best trials compared with the base and default models (default 2)")
    p.add_argument("--prompts", type=int, default=5, help="held-out prompts (default 5)")
    p.add_argument("--generate", action="store_true",
                   help="generate the answers again even if some are stored")
    p.add_argument("--objective", metavar="MODULE:ATTR",
                   help="the objective that generates answers, instead of the config's")
    p.add_argument("--workdir", help="the study's work directory (kept adapters); default: the "
                   "config's execution.workdir")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free)")
    p.add_argument("--no-serve", action="store_true",
                   help="only generate answers (and run the LLM judge); start no server")
    p.add_argument("--judge-url", help="an OpenAI-compatible server for an LLM judge, e.g. "
                   "http://127.0.0.1:8000/v1, or 'local' for a model run in this process "
                   "(its votes are stored apart from human votes)")
    p.add_argument("--judge-model", help="the model name to ask on --judge-url; with 'local', "
                   "a built-in name, model directory or .gguf file (default "
                   "smollm2-135m-instruct)")
    p.add_argument("--judge-n", type=int, default=10, help="LLM judgements to make (default 10)")
    p.set_defaults(func=_run)
