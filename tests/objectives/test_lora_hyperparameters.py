"""One table of LoRA hyperparameters feeds the objective's defaults, its default space, the
PEFT reference row, the presets and the check of the search space."""

from __future__ import annotations

import pytest

from llmhpo.exceptions import InvalidConfigError
from llmhpo.objectives.lora.objective import PAPER_DEFAULTS, LoRAObjective, default_space
from llmhpo.objectives.lora.train import PARAM_DEFAULTS
from llmhpo.space import Float, SearchSpace, get_preset
from llmhpo.space.lora import LORA_HYPERPARAMETERS, LORA_NAMES
from llmhpo.study import create_study


def test_the_table_feeds_every_default():
    assert LORA_NAMES == ("learning_rate", "lora_rank", "lora_alpha", "lora_dropout",
                          "weight_decay")
    assert PAPER_DEFAULTS == {h.name: h.paper_default for h in LORA_HYPERPARAMETERS}
    assert PAPER_DEFAULTS == {"learning_rate": 1e-5, "lora_rank": 8, "lora_alpha": 32,
                             "lora_dropout": 0.1, "weight_decay": 0.0}  # as before the table
    assert PARAM_DEFAULTS == {"learning_rate": 1e-4, "lora_rank": 8, "lora_alpha": 32,
                              "lora_dropout": 0.1, "weight_decay": 0.0}
    assert default_space().names == list(LORA_NAMES)
    assert default_space().default_params() == {
        "learning_rate": 1e-3, "lora_rank": 8, "lora_alpha": 16, "lora_dropout": 0.05,
        "weight_decay": 1e-2}
    for preset in ("tribes2023", "kiwy2025"):
        assert set(get_preset(preset).names) <= set(LORA_NAMES)
    tribes = get_preset("tribes2023").default_params()
    assert tribes == {k: PAPER_DEFAULTS[k] for k in tribes}  # the paper's default point


def test_an_unknown_search_variable_is_an_error_before_any_trial(tmp_path):
    obj = LoRAObjective({"model": str(tmp_path / "never-loaded")})
    space = SearchSpace([Float("lr", 1e-5, 1e-2, log=True), Float("lora_dropout", 0.0, 0.3)])
    study = create_study(space, budget=2)
    with pytest.raises(InvalidConfigError) as err:
        study.optimize(obj)
    msg = str(err.value)
    assert "['lr']" in msg and "'learning_rate'" in msg and "'weight_decay'" in msg
    assert study.trials == []
    obj.check_space(default_space())  # the default space passes
