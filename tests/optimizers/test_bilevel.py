"""Bilevel-BO-SWA's outer loop (Bao et al. 2025): conformance, pairings, objective settings."""

import pytest

from llmhpo.exceptions import InvalidConfigError
from llmhpo.optimizers import make_optimizer
from llmhpo.optimizers.bilevel import PAIRINGS, BilevelBOOptimizer
from llmhpo.space import Float, SearchSpace
from llmhpo.testing.optimizer_suite import OptimizerSuite


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    torch = pytest.importorskip("torch")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


class TestBilevelConformance(OptimizerSuite):
    n_steps = 6

    @pytest.fixture
    def factory(self):
        return lambda space, seed: BilevelBOOptimizer(
            space, n_init=3, num_restarts=2, raw_samples=32, outer_acq="ucb", seed=seed
        )


@pytest.mark.parametrize(("outer", "inner"), PAIRINGS)
def test_every_pairing_builds_and_asks_the_objective_for_fusion(outer, inner):
    space = SearchSpace([Float("a", 0.0, 1.0)])
    opt = make_optimizer("bilevel_bo", space, seed=0, outer_acq=outer, inner_acq=inner,
                         inner_budget=5)
    assert opt.acquisition == {"ei": "logei", "ucb": "ucb"}[outer]
    fusion = opt.objective_settings["fusion"]
    assert fusion["enabled"] is True and fusion["inner_acq"] == inner
    assert fusion["inner_budget"] == 5
    cfg = opt.get_config()
    assert cfg["outer_acq"] == outer and cfg["inner_acq"] == inner and "acquisition" not in cfg
    rebuilt = make_optimizer(cfg.pop("name"), space, **cfg)
    assert rebuilt.objective_settings == opt.objective_settings


@pytest.mark.parametrize("kwargs", [{"outer_acq": "pi"}, {"inner_acq": None},
                                    {"inner_budget": 0}, {"checkpoint_every": 1.5},
                                    {"acquisition": "ucb"}])
def test_bad_settings_are_config_errors(kwargs):
    with pytest.raises(InvalidConfigError, match="got"):
        BilevelBOOptimizer(SearchSpace([Float("a", 0.0, 1.0)]), **kwargs)
