"""Exception and warning classes of llmhpo.

Errors inherit from both :class:`LLMHPOError` and the matching built-in type, so callers
can catch either (``except ValueError`` still works for bad input).
"""

from __future__ import annotations

__all__ = [
    "LLMHPOError",
    "InvalidSearchSpaceError",
    "InvalidConfigError",
    "TellNotAskedNotSupportedError",
    "UnknownSuggestionError",
    "DuplicatedStudyError",
    "StudyNotFoundError",
    "IncompleteStudyError",
    "OptionalDependencyError",
    "StorageError",
    "TrialInfeasible",
    "TrialPruned",
    "LLMHPOWarning",
]


class LLMHPOError(Exception):
    """Base class of every error raised by llmhpo."""


class InvalidSearchSpaceError(LLMHPOError, ValueError):
    """A search space or a value does not satisfy the space's definition."""


class InvalidConfigError(LLMHPOError, ValueError):
    """A run configuration (YAML/dict) is malformed."""


class TellNotAskedNotSupportedError(LLMHPOError, NotImplementedError):
    """The optimizer cannot learn from points it did not suggest (no warm start)."""


class UnknownSuggestionError(LLMHPOError, KeyError):
    """``tell`` was called with a suggestion id that is not pending."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


class DuplicatedStudyError(LLMHPOError, ValueError):
    """A study with this name already exists and was not meant to be resumed."""


class StudyNotFoundError(LLMHPOError, KeyError):
    """No study of this name exists in the storage."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class IncompleteStudyError(StudyNotFoundError):
    """The study's creation was interrupted (its driver killed) before it was usable."""


class OptionalDependencyError(LLMHPOError, ImportError):
    """A feature needs an optional dependency that is not installed."""


class StorageError(LLMHPOError, RuntimeError):
    """A storage (database) cannot be opened or used."""


class TrialInfeasible(LLMHPOError, RuntimeError):
    """Raised by an objective when a configuration cannot run at all (e.g. out of memory).

    The study records the trial as INFEASIBLE, distinct from a crash.
    """


class TrialPruned(LLMHPOError):
    """Raised by an objective that stopped early because ``ctx.should_stop()`` said so (a
    scheduler or pruner stopped it at a low fidelity).

    The study records the trial as PRUNED with its last reported value and fidelity.
    """


class LLMHPOWarning(UserWarning):
    """Base class of warnings emitted by llmhpo."""
