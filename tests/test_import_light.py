"""`import llmhpo` (and the core API) must not import the heavy optional dependencies."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = [
    "torch",
    "botorch",
    "gpytorch",
    "transformers",
    "peft",
    "PyNomad",
    "sklearn",
    "matplotlib",
    "lm_eval",
    "ray",
    "datasets",
]

CODE = """
import json, sys
import llmhpo
from llmhpo.space import get_preset
from llmhpo.config import load_config, default_config_path
from llmhpo.cli.main import build_parser
space = get_preset("tribes2023")
study = llmhpo.create_study(space, optimizer="lhs", budget=2)
study.optimize(lambda p, ctx: p["learning_rate"])
load_config(default_config_path())
build_parser()
print(json.dumps(sorted(m.split(".")[0] for m in sys.modules)))
"""


def test_core_does_not_import_heavy_dependencies():
    out = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120, check=True
    )
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "llmhpo" in loaded and "optuna" in loaded
    assert sorted(loaded & set(HEAVY)) == []
