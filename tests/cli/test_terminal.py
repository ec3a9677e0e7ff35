"""What a person sees in a terminal: `llmhpo run` under a real pseudo-terminal keeps one live
line (rewritten with \\r), prints a line per finished trial and ends with the results; the
LoRA objective's library chatter is silenced only inside its calls."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import warnings

import pytest


def _run_in_pty(args, cwd, env, timeout=120.0) -> str:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # 120 columns
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    out = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                raise TimeoutError(out.decode(errors="replace"))
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    finally:
        proc.wait(timeout=30)
        os.close(master)
    assert proc.returncode == 0, out.decode(errors="replace")
    return out.decode(errors="replace")


def test_run_in_a_terminal_shows_a_live_line_and_a_line_per_trial(tmp_path, cli_env):
    (tmp_path / "run.yaml").write_text(
        "study_name: t\nstorage: sqlite:///t.db\nbudget: 3\n"
        "objective: {type: synthetic, name: branin}\n")
    out = _run_in_pty([sys.executable, "-m", "llmhpo.cli.main", "run", "run.yaml"],
                      tmp_path, cli_env)
    assert "\r[llmhpo] 0/3 trials | best -" in out  # the live line, drawn in place
    for n in range(3):
        assert f"[llmhpo] trial {n}: value " in out
    assert "(best so far)" in out
    assert "\r[llmhpo] 3/3 trials | best " in out
    assert "running 0" not in out and "failed 0" not in out  # zero counts left out
    assert out.rstrip().splitlines()[-1].strip().startswith("x2 =")  # the result, last


def test_quiet_libraries_is_scoped():
    pytest.importorskip("transformers")
    from transformers.utils import logging as tlog

    from llmhpo.objectives.lora.quiet import quiet_libraries

    def warn(module):
        warnings.warn_explicit("`is_gradient_checkpointing` is deprecated", FutureWarning,
                               "x.py", 1, module=module)

    verbosity = tlog.get_verbosity()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with quiet_libraries():
            warn("transformers.modeling_utils")
            warn("peft.tuners")
            warn("mypkg.train")  # the user's own warnings still show
            assert tlog.get_verbosity() == tlog.ERROR
            assert not tlog.is_progress_bar_enabled()
        warn("transformers.modeling_utils")  # outside the block: shown again
    assert [str(w.message) for w in seen] == ["`is_gradient_checkpointing` is deprecated"] * 2
    assert tlog.get_verbosity() == verbosity and tlog.is_progress_bar_enabled()
