"""Every objective type against the objective contract (llmhpo.testing.objective_suite)."""

from __future__ import annotations

import sys

import pytest
from lora_tiny import PARAMS, tiny_config, tiny_model_dir, tiny_tokenizer  # noqa: F401

from llmhpo.objectives.registry import build_objective
from llmhpo.testing.objective_suite import ObjectiveSuite


class TestSynthetic(ObjectiveSuite):
    @pytest.fixture
    def spec(self):
        return build_objective({"type": "synthetic", "name": "branin"})


class TestPython(ObjectiveSuite):
    run_in_process = True  # the target is imported by name in the worker

    @pytest.fixture
    def spec(self):
        return build_objective({"type": "python", "target": "helper_objectives:reports_steps"})

    @pytest.fixture
    def params(self):
        return {"x": 0.8, "y": 0.1}

    @pytest.fixture
    def failing_params(self):
        return {"y": 0.1}  # no x: the function raises KeyError


_CODE = ("import json, sys; x = float(sys.argv[1]); "
         "assert x >= 0, 'negative'; print(json.dumps({'loss': (x - 0.3) ** 2}))")


class TestCommand(ObjectiveSuite):
    @pytest.fixture
    def spec(self):
        spec = build_objective({"type": "command",
                                "command": [sys.executable, "-c", _CODE, "{x}"]})
        return type(spec)(spec.objective, metric="loss")

    @pytest.fixture
    def params(self):
        return {"x": 0.5}

    @pytest.fixture
    def failing_params(self):
        return {"x": -1.0}

    @pytest.fixture
    def bad_preflight_spec(self):
        return build_objective({"type": "command", "command": ["no-such-program-llmhpo", "{x}"]})


class TestSklearn(ObjectiveSuite):
    @pytest.fixture
    def spec(self):
        pytest.importorskip("sklearn")
        return build_objective({"type": "sklearn", "model": "svm", "dataset": "iris"})


class TestLoRA(ObjectiveSuite):
    @pytest.fixture
    def spec(self, tiny_model_dir):  # noqa: F811
        return build_objective({"type": "lora", **tiny_config(tiny_model_dir, eval={
            "accuracy": "none"}, artifacts={"save_adapters": False})})

    @pytest.fixture
    def params(self):
        return dict(PARAMS)

    @pytest.fixture
    def failing_params(self):
        return {**PARAMS, "learning_rate": 1e30}  # diverges: NaN loss

    @pytest.fixture
    def bad_preflight_spec(self, tmp_path):
        return build_objective({"type": "lora", "model": str(tmp_path / "no-model")})
