"""Keep library chatter that is not the user's business off the terminal, for the duration of
one objective call only (nothing global is left changed; the library never configures
logging): FutureWarning / DeprecationWarning from transformers, PEFT, torch, accelerate and
gguf (e.g. transformers' ``is_gradient_checkpointing`` deprecation, which PEFT triggers on
every adapter), their UserWarnings about generation settings, transformers' info/warning
log records and its tqdm bars (the GGUF conversion's, replaced by one status message)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["quiet_libraries"]

_MODULES = r"(transformers|peft|torch|accelerate|gguf|tokenizers)(\.|$)"


@contextmanager
def quiet_libraries() -> Iterator[None]:
    """Silence the libraries' warnings, log records below ERROR and progress bars in the block;
    restore every setting afterwards."""
    from transformers.utils import logging as tlog

    verbosity = tlog.get_verbosity()
    bars = tlog.is_progress_bar_enabled()
    with warnings.catch_warnings():
        for category in (FutureWarning, DeprecationWarning, UserWarning):
            warnings.filterwarnings("ignore", category=category, module=_MODULES)
        tlog.set_verbosity_error()
        tlog.disable_progress_bar()
        try:
            yield
        finally:
            tlog.set_verbosity(verbosity)
            if bars:
                tlog.enable_progress_bar()
