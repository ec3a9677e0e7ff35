"""Entry point of the ``llmhpo`` command.

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds its
parser and sets ``func(args) -> int``. Errors of llmhpo (bad config, bad space, missing study)
print one line on stderr and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from llmhpo.exceptions import LLMHPOError

# Modules providing subcommands, in the order shown by --help. A module that fails to import
# (an optional extra missing) does not break the others.
SUBCOMMANDS = [
    "llmhpo.cli.run",
    "llmhpo.cli.inspect",
    "llmhpo.cli.assess",
    "llmhpo.cli.report",
    "llmhpo.cli.compare",
    "llmhpo.cli.bench",
]


def build_parser() -> argparse.ArgumentParser:
    from llmhpo import __version__

    parser = argparse.ArgumentParser(
        prog="llmhpo", description="Hyperparameter optimization of LLM fine-tuning."
    )
    parser.add_argument("--version", action="version", version=f"llmhpo {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every trial")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # subcommand not written yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        argv = ["run"]  # `llmhpo` alone runs the built-in default main job
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except LLMHPOError as exc:
        print(f"llmhpo: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("llmhpo: interrupted; finished trials are saved, re-run to resume", file=sys.stderr)
        return 130


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
    root = logging.getLogger("llmhpo")
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    try:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
    except ImportError:  # pragma: no cover
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
