"""TPE (tree-structured Parzen estimator) through Optuna's ``TPESampler``.

Tribes et al. 2023 compares NOMAD with NNI's TPE; NNI is archived, so we use Optuna's TPE
(Bergstra et al.
2011; Watanabe 2023) behind our ask/tell interface. The optimizer keeps a private in-memory
Optuna study: ``ask`` is ``study.ask(distributions)``, ``tell`` is ``study.tell`` (failures as
``FAIL``), and warm start is ``study.add_trial``.

Ordered discrete variables keep their order: a power of two is modelled as an integer
exponent and an ordinal as an integer index (``IntDistribution``), not as an unordered
categorical, so TPE's Parzen estimators can put mass *near* good values (rank 16 informs 32).
Only categoricals are categorical.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, ClassVar

import numpy as np

from llmhpo._imports import require
from llmhpo.optimizers.base import BaseOptimizer, Capabilities, Observation, Suggestion
from llmhpo.space import Fixed, Ordinal, PowerOfTwo, SearchSpace
from llmhpo.validation import bad_value, check_bool, check_int

__all__ = ["TPEOptimizer"]

_STUDY_NAME = "llmhpo-tpe-private"


class _OwnStudyFilter(logging.Filter):
    """Drop Optuna's "A new study created in memory with name: llmhpo-tpe-private" record.

    Each optimizer keeps a private in-memory study, and creating it makes Optuna log that line
    at INFO level through its own handler (on stderr by default). Changing Optuna's verbosity
    or handlers would change what users see from their own studies, so instead we attach this
    filter, once, to the one logger concerned; it drops only the records naming our private
    study and lets everything else through.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return _STUDY_NAME not in record.getMessage()


def _hide_own_study_creation_message() -> None:
    log = logging.getLogger("optuna.storages._in_memory")
    if not any(isinstance(f, _OwnStudyFilter) for f in log.filters):
        log.addFilter(_OwnStudyFilter())


class TPEOptimizer(BaseOptimizer):
    """Optuna's TPE sampler as an llmhpo optimizer (minimization).

    The first ``n_startup_trials`` successful trials are uniform random draws; afterwards TPE
    splits the observations into the best ``gamma(n) = min(ceil(0.1 n), 25)`` ("good") and the
    rest, fits a Parzen estimator (kernel density) to each, samples ``n_ei_candidates`` points
    from the good density l(x) and keeps the one that maximizes l(x) / g(x), which is
    proportional to expected improvement. Pending points of a batch are given the worst value
    seen (the "constant liar"), so parallel workers get different points.

    Determinism: before each point the sampler is rebuilt with a seed drawn from
    ``(seed, draw)``, where the draw index (attribute ``draw``) continues after the highest one
    told or pending (other drivers' running points included), so a fresh optimizer that is told
    the same history proposes the same next point (what a resumed study needs), and drivers
    sharing a study never use the same draw.

    Args:
        space: the search space (its :meth:`~llmhpo.space.SearchSpace.optuna_distributions`).
        n_startup_trials: random trials before TPE starts modelling (Optuna's default 10).
        n_ei_candidates: candidates drawn from l(x) per suggestion (default 24).
        multivariate: one joint Parzen estimator over all variables (Optuna 5's default for a
            single objective) instead of one per variable.
        constant_liar: treat pending trials as bad results so batches spread out.
        ordered: model powers of two and ordinals as their integer exponent / index (default);
            ``False`` treats them as unordered categoricals.
        init: ``"random"`` (Optuna's startup trials) or ``"llm"``: the first
            ``n_startup_trials`` points come from an LLM (Zhang et al. 2023), then TPE.
        llm: options of the LLM (:class:`~llmhpo.optimizers.llm.LLMOptimizer` arguments)
            when ``init`` is ``"llm"``.
        seed: seed of every draw.
    """

    name: ClassVar[str] = "tpe"
    capabilities: ClassVar[Capabilities] = Capabilities(
        batch=True, warm_start=True, deterministic=True, may_exhaust=False
    )

    def __init__(
        self,
        space: SearchSpace,
        *,
        n_startup_trials: int = 10,
        n_ei_candidates: int = 24,
        multivariate: bool = True,
        constant_liar: bool = True,
        ordered: bool = True,
        init: str = "random",
        llm: dict[str, Any] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(space, seed=seed)
        if init not in ("random", "llm"):
            raise bad_value("optimizer.init", init, "'random' or 'llm'")
        self.init = init
        self.llm_options = dict(llm or {})
        self._llm_init: Any = None
        check_int("optimizer.n_startup_trials", n_startup_trials, low=0, high=1_000_000)
        check_int("optimizer.n_ei_candidates", n_ei_candidates, low=1, high=100_000)
        for field, flag in (
            ("multivariate", multivariate),
            ("constant_liar", constant_liar),
            ("ordered", ordered),
        ):
            check_bool(f"optimizer.{field}", flag)
        self.n_startup_trials = int(n_startup_trials)
        self.n_ei_candidates = int(n_ei_candidates)
        self.multivariate = bool(multivariate)
        self.constant_liar = bool(constant_liar)
        self.ordered = bool(ordered)

        optuna = require("optuna", feature="the TPE optimizer")
        # Powers of two and ordinals as their integer exponent / index (ordered for TPE);
        # the values the trial receives are mapped back in _from_tpe.
        self._ordered = {v.name: v for v in space.variables
                         if self.ordered and isinstance(v, (PowerOfTwo, Ordinal))}
        free = {v.name for v in space.variables if not isinstance(v, Fixed)}
        self._dists = {k: d for k, d in space.optuna_distributions().items() if k in free}
        for name, v in self._ordered.items():
            lo, hi = (int(b) for b in v.internal_bounds)
            self._dists[name] = optuna.distributions.IntDistribution(lo, hi)
        _hide_own_study_creation_message()
        self._storage = optuna.storages.InMemoryStorage()
        self._storage.create_new_study(
            [optuna.study.StudyDirection.MINIMIZE], study_name=_STUDY_NAME
        )
        self._study = optuna.Study(
            study_name=_STUDY_NAME, storage=self._storage, sampler=self._sampler(0)
        )
        self._study_id = self._storage.get_study_id_from_name(_STUDY_NAME)

    # ----- ask / tell -------------------------------------------------------------------------
    def _ask(self, n: int) -> list[tuple[np.ndarray, dict[str, Any]]]:
        out = []
        n_ok = sum(1 for o in self.observations if o.value is not None)
        batch: list[dict[str, Any]] = []
        for i in range(n):
            k = self._next_draw() + i
            self._study.sampler = self._sampler(k)
            llm_attrs: dict[str, Any] = {}
            if self.init == "llm" and k < self.n_startup_trials:
                if self._llm_init is None:
                    from llmhpo.optimizers.llm import LLMInitializer

                    self._llm_init = LLMInitializer(self, self.llm_options)
                llm_params, llm_attrs = self._llm_init.propose(batch)
                self._study.enqueue_trial(self._to_tpe(
                    {k_: llm_params[k_] for k_ in self._dists}), skip_if_exists=False)
            trial = self._study.ask(self._dists)
            params = self.space.validate(self._from_tpe(trial.params))
            x = self.space.encode(params)
            self._store_canonical(trial.number, self._to_tpe(self.space.decode(x)),
                                  trial.params)
            phase = "startup" if n_ok < self.n_startup_trials else "tpe"
            if llm_attrs:
                phase = "init"
            batch.append(self.space.decode(x))
            out.append((x, {"phase": phase, "optuna_trial": trial.number, "draw": k,
                            **llm_attrs}))
        return out

    def preflight(self) -> None:
        """With ``init: llm``: check the LLM backend before the study records anything."""
        if self.init == "llm":
            from llmhpo.optimizers.llm import LLMInitializer

            self._llm_init = self._llm_init or LLMInitializer(self, self.llm_options)
            self._llm_init.preflight()

    def _tell(self, obs: Observation, suggestion: Suggestion | None) -> None:
        from optuna.trial import TrialState, create_trial

        if suggestion is not None:
            number = int(suggestion.attrs["optuna_trial"])
            if obs.value is None:
                self._study.tell(number, state=TrialState.FAIL)
            else:
                self._study.tell(number, obs.value)
            return
        params = self._to_tpe({k: obs.params[k] for k in self._dists})
        if obs.value is None:
            trial = create_trial(params=params, distributions=self._dists, state=TrialState.FAIL)
        else:
            trial = create_trial(params=params, distributions=self._dists, value=obs.value)
        self._study.add_trial(trial)

    def _cancel(self, suggestion_id: int) -> None:
        from optuna.trial import TrialState

        # The cancelled trial is the RUNNING one no pending suggestion refers to. TPE ignores
        # FAIL trials, so it is as if it had never been asked.
        pending = {int(s.attrs["optuna_trial"]) for s in self.pending}
        for t in self._study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if t.number not in pending:
                self._study.tell(t.number, state=TrialState.FAIL)

    def _config(self) -> dict[str, Any]:
        return {
            "n_startup_trials": self.n_startup_trials,
            "n_ei_candidates": self.n_ei_candidates,
            "multivariate": self.multivariate,
            "constant_liar": self.constant_liar,
            "ordered": self.ordered,
            **({"init": "llm", "llm": self.llm_options} if self.init == "llm" else {}),
        }

    # ----- helpers ----------------------------------------------------------------------------
    def _to_tpe(self, params: dict[str, Any]) -> dict[str, Any]:
        """Space values -> the private study's values (exponents and indices for ordered ones)."""
        return {k: int(round(self._ordered[k].to_internal(v))) if k in self._ordered else v
                for k, v in params.items()}

    def _from_tpe(self, params: dict[str, Any]) -> dict[str, Any]:
        """The private study's values -> space values."""
        return {k: self._ordered[k].from_internal(v) if k in self._ordered else v
                for k, v in params.items()}

    def _sampler(self, k: int) -> Any:
        """A TPE sampler whose seed depends on (seed, k) only."""
        from optuna.samplers import TPESampler

        seed = None if self.seed is None else int(self._rng(k).integers(2**31 - 1))
        with warnings.catch_warnings():  # experimental-feature warnings of some Optuna versions
            warnings.simplefilter("ignore")
            return TPESampler(
                n_startup_trials=self.n_startup_trials,
                n_ei_candidates=self.n_ei_candidates,
                multivariate=self.multivariate,
                constant_liar=self.constant_liar,
                seed=seed,
            )

    def _store_canonical(
        self, number: int, canonical: dict[str, Any], raw: dict[str, Any]
    ) -> None:
        """Store in the study the exact values the suggestion decodes to.

        A replayed history holds the decoded values; keeping the same values here makes the
        original study and the replayed one identical, hence the same next suggestion.
        """
        trial_id = self._storage.get_trial_id_from_study_id_trial_number(self._study_id, number)
        for name, dist in self._dists.items():
            if canonical[name] != raw[name]:
                internal = dist.to_internal_repr(canonical[name])
                self._storage.set_trial_param(trial_id, name, internal, dist)
