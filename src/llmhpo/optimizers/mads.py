"""MADS (mesh adaptive direct search) through NOMAD's own Python interface, PyNomad.

Tribes et al. 2023 (Tribes et al. 2023) tunes LoRA with NOMAD 4: integer variables on the mesh,
PEFT's
defaults as the initial point X0, and a cache file of earlier evaluations to jump-start a second
round. :class:`MADSOptimizer` drives ``PyNomad.optimize`` block by block from ``ask``/``tell``
(see :mod:`llmhpo.optimizers._recast` for why the run lives in a child process) and works in
the space's *internal* representation (log10 of log-scale floats, integer exponents of powers of
two, indices of choices).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import secrets
import shutil
import tempfile
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from llmhpo.exceptions import OptionalDependencyError
from llmhpo.optimizers._recast import NomadProcess
from llmhpo.optimizers.base import BaseOptimizer, Capabilities, Observation, Suggestion
from llmhpo.space import SearchSpace
from llmhpo.validation import bad_value, check_int

__all__ = ["MADSOptimizer"]

logger = logging.getLogger("llmhpo.optimizers.mads")

# NOMAD's run_flag when the initial point could not be evaluated.
_X0_FAILED = -3
# Two internal points are the same when they agree to this fraction of each variable's range.
_TOL = 1e-9
# Attribute keys that mark a replayed observation as one of this optimizer's own points.
_RUN_KEY = "nomad_run"


@dataclass
class _Entry:
    """One point of the block NOMAD is waiting for."""

    z: np.ndarray  # internal coordinates as NOMAD sent them
    index: int  # rank of the point within the NOMAD run
    asked: bool = False  # handed out (or linked to a pending suggestion)
    answered: bool = False
    value: float | None = None


class MADSOptimizer(BaseOptimizer):
    """NOMAD's MADS behind ask/tell (minimization; Tribes et al. 2023).

    Integer, power-of-two, ordinal and categorical variables are NOMAD integers (type ``I``,
    granularity 1) over their internal numbers; reals are type ``R``. The first point is the
    space's default point (X0). Points told with :meth:`tell_not_asked` that did not come
    from this optimizer are written to NOMAD's cache file, so NOMAD never asks for them again and
    its quadratic-model search uses them (Tribes et al. 2023's warm start); points replayed from
    this
    optimizer's own history (their attributes carry ``nomad_run``) are answered when NOMAD asks
    for them again, so a resumed run retraces the original one.

    If the initial point fails, NOMAD stops ("initial point failed"); the optimizer then starts a
    new NOMAD run with every point seen so far in its cache, from the best of them (or, when
    none succeeded, from a random point drawn from the seed and the run number), so failures
    never end the search. Warm-start points told in the middle of a run also start a new run
    (NOMAD reads its cache only at the start). When NOMAD stops otherwise (budget used, mesh
    converged) ``ask`` returns no point.

    Args:
        space: the search space.
        budget: number of evaluations (NOMAD's ``MAX_BB_EVAL``); warm-start points do not
            count. ``None`` runs until the mesh has converged.
        block_size: points NOMAD proposes together (``BB_MAX_BLOCK_SIZE``); set it to the number
            of parallel workers. With more than one, ``MEGA_SEARCH_POLL yes`` fills the blocks.
        nomad_params: extra NOMAD parameter lines (e.g. ``["DIRECTION_TYPE ORTHO 2N"]``); they
            come last and override the defaults.
        seed: hashed into NOMAD's ``SEED`` (:func:`nomad_seed`).
    """

    name: ClassVar[str] = "mads"
    capabilities: ClassVar[Capabilities] = Capabilities(
        batch=True, warm_start=True, deterministic=True, may_exhaust=True,
        budget_param="budget",
    )

    def __init__(
        self,
        space: SearchSpace,
        *,
        budget: int | None = None,
        block_size: int = 1,
        nomad_params: Sequence[str] = (),
        seed: int | None = None,
    ) -> None:
        super().__init__(space, seed=seed)
        if importlib.util.find_spec("PyNomad") is None:  # imported only in the child process
            raise OptionalDependencyError(
                "'PyNomad' is needed for the MADS optimizer but is not installed. "
                "Install it with: pip install 'llmhpo[nomad]'"
            )
        check_int("optimizer.budget", budget, low=1, none_ok=True)
        check_int("optimizer.block_size", block_size, low=1, high=10_000)
        if (
            isinstance(nomad_params, str)
            or not isinstance(nomad_params, (list, tuple))
            or not all(isinstance(p, str) for p in nomad_params)
        ):
            raise bad_value("optimizer.nomad_params", nomad_params, "a list of strings")
        self.budget = None if budget is None else int(budget)
        self.block_size = int(block_size)
        self.nomad_params = list(nomad_params)
        self._lb, self._ub = space.internal_bounds
        self._span = np.where(self._ub > self._lb, self._ub - self._lb, 1.0)
        self._integer = np.array([k != "real" for k in space.kinds])
        self._nomad_seed = (
            nomad_seed(int(seed)) if seed is not None else secrets.randbelow(2**31)
        )
        self._run = 0  # NOMAD run number (a new run starts after a failed initial point)
        self._block: list[_Entry] | None = None
        self._n_in_run = 0  # points the current run has asked for
        self._n_blocks = 0
        self._exhausted = False
        self._stale = False  # warm-start points arrived after the run started
        self._obs_zn: list[np.ndarray] = []  # normalized internal point of each observation
        self.last_result: dict[str, Any] | None = None
        # The child process and the temporary folder are released when the optimizer is closed
        # or garbage-collected (weakref.finalize also runs at interpreter exit).
        self._tmp = Path(tempfile.mkdtemp(prefix="llmhpo-nomad-"))
        self._holder: list[NomadProcess | None] = [None]
        self._finalizer = weakref.finalize(self, _release, self._holder, self._tmp)

    # ----- public -----------------------------------------------------------------------------
    def close(self) -> None:
        """End the NOMAD process. A later ``ask`` starts it again and replays the history."""
        self._stop_process()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> MADSOptimizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- ask / tell -------------------------------------------------------------------------
    def _ask(self, n: int) -> list[tuple[np.ndarray, dict[str, Any]]]:
        out: list[tuple[np.ndarray, dict[str, Any]]] = []
        while len(out) < n and not self._exhausted:
            if self._room() <= 0:
                break
            if self._stale:  # new warm-start points: a new run whose cache holds them all
                self._stop_process()
                self._run += 1
            if self._block is None and not self._next_block():
                continue  # a run ended: either exhausted or restarted
            assert self._block is not None
            free = [e for e in self._block if not e.asked and not e.answered]
            for e in free[: min(n - len(out), self._room())]:
                e.asked = True
                out.append((self._to_unit(e.z), self._attrs(e)))
            if all(e.answered for e in self._block):
                self._answer_block()
            elif not [e for e in self._block if not e.asked]:
                break  # every point is out: wait for the results
        return out

    def _tell(self, obs: Observation, suggestion: Suggestion | None) -> None:
        z = self._normalized(self.space.to_internal(obs.params))
        self._obs_zn.append(z)
        if suggestion is None and _RUN_KEY not in obs.attrs and self._holder[0] is not None:
            self._stale = True  # a new warm-start point: rebuild NOMAD's cache on the next ask
        if self._block is None:
            return
        for e in self._block:
            if not e.answered and self._same(self._normalized(e.z), z):
                e.answered, e.value = True, obs.value
        if all(e.answered for e in self._block):
            self._answer_block()

    def _cancel(self, suggestion_id: int) -> None:
        # Hand the point out again: NOMAD is still waiting for it.
        if self._block is None:
            return
        pending = [self._normalized(self.space.to_internal(s.params)) for s in self.pending]
        for e in self._block:
            if e.asked and not e.answered:
                if not any(self._same(self._normalized(e.z), p) for p in pending):
                    e.asked = False

    def _config(self) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "block_size": self.block_size,
            "nomad_params": list(self.nomad_params),
        }

    # ----- the NOMAD run ----------------------------------------------------------------------
    def _next_block(self) -> bool:
        """Read NOMAD's next request; False when the run ended (maybe restarting)."""
        proc = self._holder[0] or self._start_run()
        kind, payload = proc.next_message()
        if kind == "done":
            self._run_ended(payload)
            return False
        self._n_blocks += 1
        self._block = []
        pending = [self._normalized(self.space.to_internal(s.params)) for s in self.pending]
        for coords in payload:
            e = _Entry(np.asarray(coords, dtype=float), self._n_in_run)
            self._n_in_run += 1
            zn = self._normalized(e.z)
            known = self._lookup(zn)
            if known is not None:  # replayed or already told: answer without asking anyone
                e.asked, e.answered, e.value = True, True, known.value
            elif any(self._same(zn, p) for p in pending):
                e.asked = True  # already out (the run was restarted): wait for its tell
            self._block.append(e)
        return True

    def _answer_block(self) -> None:
        assert self._block is not None and self._holder[0] is not None
        self._holder[0].send_values([e.value for e in self._block])
        self._block = None

    def _start_run(self) -> NomadProcess:
        """Start NOMAD run ``self._run`` with the cache of every point it must not ask again."""
        self._stale = False
        self._block, self._n_in_run, self._n_blocks = None, 0, 0
        self._tmp.mkdir(parents=True, exist_ok=True)
        cache = [o for o in self.observations if self._run_of(o) < self._run]
        ok = [(float(o.value), i) for i, o in enumerate(cache) if o.value is not None]
        if self._run == 0:
            x0 = self.space.to_internal(self.space.default_params())
        elif ok:  # restart from the best point known when the run starts
            x0 = self.space.to_internal(cache[min(ok)[1]].params)
        else:  # nothing succeeded yet: a random point drawn from the seed and the run number
            x0 = self._lb + self._rng(self._run).random(self.space.dim) * (self._ub - self._lb)
            x0 = np.where(self._integer, np.round(x0), x0)
        params = [
            f"DIMENSION {self.space.dim}",
            "BB_OUTPUT_TYPE OBJ",
            "BB_INPUT_TYPE ( " + " ".join("I" if i else "R" for i in self._integer) + " )",
            "DISPLAY_DEGREE 0",
            f"SEED {self._nomad_seed}",
        ]
        if self.budget is not None:
            # NOMAD may count the cache's points as evaluations, so give it room for them;
            # _room() enforces the budget exactly.
            spent = sum(1 for o in cache if self._run_of(o) >= 0)
            params.append(f"MAX_BB_EVAL {max(1, self.budget - spent) + len(cache)}")
        if self.block_size > 1:
            params += [f"BB_MAX_BLOCK_SIZE {self.block_size}", "MEGA_SEARCH_POLL yes"]
        if cache:
            path = self._tmp / f"cache_{self._run}.txt"
            self._write_cache(path, cache)
            params.append(f"CACHE_FILE {path}")
        params += self.nomad_params
        proc = NomadProcess(
            self._fmt(x0), self._lb.tolist(), self._ub.tolist(), params, self._tmp / "nomad.log"
        )
        self._holder[0] = proc
        return proc

    def _run_ended(self, result: dict[str, Any]) -> None:
        self.last_result = result
        self._stop_process()
        flag = result.get("run_flag")
        if flag == _X0_FAILED and self._room() > 0:
            logger.info("NOMAD's initial point failed; starting run %d", self._run + 1)
            self._run += 1
        else:
            logger.info("NOMAD stopped: %s", result.get("stop_reason"))
            self._exhausted = True

    def _stop_process(self) -> None:
        proc, self._holder[0] = self._holder[0], None
        if proc is not None:
            proc.close()
        self._block = None
        self._stale = False

    # ----- helpers ----------------------------------------------------------------------------
    def _room(self) -> int:
        """Evaluations left in the budget (told non-warm points and pending ones are spent)."""
        if self.budget is None:
            return 1 << 30
        spent = sum(1 for o in self.observations if self._run_of(o) >= 0) + len(self._pending)
        return self.budget - spent

    def _run_of(self, obs: Observation) -> int:
        """The NOMAD run an observation belongs to; -1 for warm-start points (cache)."""
        if _RUN_KEY in obs.attrs:
            return int(obs.attrs[_RUN_KEY])
        return -1 if obs.suggestion_id is None else self._run

    def _attrs(self, e: _Entry) -> dict[str, Any]:
        return {
            "phase": "mads" if e.index else ("x0" if self._run == 0 else "restart"),
            _RUN_KEY: self._run,
            "nomad_eval": e.index,
            "nomad_block": self._n_blocks - 1,
        }

    def _lookup(self, zn: np.ndarray) -> Observation | None:
        if not self._obs_zn:
            return None
        dist = np.max(np.abs(np.asarray(self._obs_zn) - zn), axis=1)
        hits = np.flatnonzero(dist <= _TOL)
        return self.observations[int(hits[-1])] if hits.size else None

    def _normalized(self, z: np.ndarray) -> np.ndarray:
        return (np.asarray(z, dtype=float) - self._lb) / self._span

    @staticmethod
    def _same(a: np.ndarray, b: np.ndarray) -> bool:
        return bool(np.max(np.abs(a - b)) <= _TOL)

    def _to_unit(self, z: np.ndarray) -> np.ndarray:
        return self.space.encode(self.space.from_internal(z))

    def _fmt(self, z: np.ndarray) -> list[float]:
        return [float(round(v)) if i else float(v) for v, i in zip(z, self._integer, strict=True)]

    def _write_cache(self, path: Path, observations: list[Observation]) -> None:
        """NOMAD 4.6's cache format: ``( x ) BB_EVAL_OK ( f ) SURROGATE_EVAL_NOT_STARTED ( )``."""
        lines = ["CACHE_HITS 0", "BB_OUTPUT_TYPE OBJ"]
        seen: list[np.ndarray] = []
        for o in observations:
            z = self.space.to_internal(o.params)
            zn = self._normalized(z)
            if any(self._same(zn, s) for s in seen):
                continue
            seen.append(zn)
            coords = " ".join(
                str(int(round(v))) if i else repr(float(v))
                for v, i in zip(z, self._integer, strict=True)
            )
            status = "BB_EVAL_FAILED (  )" if o.value is None else f"BB_EVAL_OK ( {o.value!r} )"
            lines.append(f"( {coords} ) {status} SURROGATE_EVAL_NOT_STARTED ( )")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


_NOMAD_SEED_RANGE = 100_000


def nomad_seed(seed: int) -> int:
    """NOMAD's ``SEED`` for our ``seed``: a hash of it in ``[0, 100000)``.

    NOMAD's own generator gives identical runs for some nearby seeds (measured with PyNomad
    4.5: seeds 4 and 6, 5 and 7, 12 and 14 gave the same points), so seeds are hashed first.
    The range is kept small because NOMAD's start-up time grows with the seed's value
    (measured on branin: 0.3 s per 15-evaluation run at 1e5, 1.7 s at 1e7, 15 s at 3e8).
    """
    digest = hashlib.sha256(f"llmhpo-mads-{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % _NOMAD_SEED_RANGE


def _release(holder: list[NomadProcess | None], tmp: Path) -> None:
    proc, holder[0] = holder[0], None
    if proc is not None:
        proc.close()
    shutil.rmtree(tmp, ignore_errors=True)
