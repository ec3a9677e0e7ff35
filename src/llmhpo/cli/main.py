"""Entry point of the ``llmhpo`` command.

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds its
parser and sets ``func(args) -> int``. Errors of llmhpo (bad config, bad space, missing study)
print one line on stderr and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from llmhpo.exceptions import LLMHPOError
from llmhpo.validation import one_line

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


class _Parser(argparse.ArgumentParser):
    """argparse with llmhpo's error form: one ``llmhpo: error:`` line, exit status 2
    (argparse prints its usage first; ``--help`` still shows it)."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("llmhpo").strip()
        where = f"{command}: " if command else ""
        self.exit(2, f"llmhpo: error: {where}{one_line(message)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from llmhpo import __version__

    parser = _Parser(
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
        print(f"llmhpo: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file or directory the command was given cannot be used
        where = f": {exc.filename!r}" if exc.filename else ""
        print(f"llmhpo: error: {one_line(exc.strerror or str(exc))}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("llmhpo: interrupted; finished trials are saved, re-run to resume", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: say so on one line; the traceback on request
        if os.environ.get("LLMHPO_TRACEBACK"):
            raise
        print(
            f"llmhpo: internal error: {type(exc).__name__}: {one_line(str(exc), 500)} "
            "(a bug in llmhpo; set LLMHPO_TRACEBACK=1 for the traceback and report it)",
            file=sys.stderr,
        )
        return 1


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
