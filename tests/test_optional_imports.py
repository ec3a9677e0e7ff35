"""Missing optional dependencies give one actionable error that names the extra to install."""

from __future__ import annotations

import sys

import pytest

from llmhpo._imports import require, require_installed
from llmhpo.exceptions import OptionalDependencyError


def test_require_imports_or_names_the_extra() -> None:
    assert require("json").dumps([1]) == "[1]"
    with pytest.raises(OptionalDependencyError, match=r"'peft\.no_such_part' is needed for "
                       r"the LoRA objective but could not be imported .*llmhpo\[lora\]"):
        require("peft.no_such_part", feature="the LoRA objective")


def test_require_installed_checks_without_importing() -> None:
    had_lm_eval = "lm_eval" in sys.modules
    require_installed("json", "lm_eval")
    assert ("lm_eval" in sys.modules) == had_lm_eval  # found, not imported
    with pytest.raises(OptionalDependencyError,
                       match=r"'llmhpo_no_such_pkg' is needed for x but is not installed\. "
                             r"Install it with: pip install 'llmhpo\[all\]'"):
        require_installed("json", "llmhpo_no_such_pkg", feature="x")
