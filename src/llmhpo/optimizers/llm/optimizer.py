"""``optimizer: llm`` — a large language model proposes the configurations (Zhang et al. 2023).

Each ``ask`` builds the paper's prompt from the search space and the history (see
:mod:`~llmhpo.optimizers.llm.prompts`), asks the backend for one JSON config, parses and
validates it against the space, and re-prompts with the validation error (``repair_tries``
times) before it falls back to a space-filling point. The trial attribute ``proposal`` says
which: ``llm`` (the model's first answer), ``repaired`` (a later answer) or ``fallback`` (not
the model's idea). Per trial the attributes also hold tokens in/out, latency, cost and every
prompt with its answer (``llm_log``).

Reproducibility: the prompt is a function of the history only, decoding is greedy or sampled
with a seed derived from ``(seed, step, attempt)``, and every answer is kept in the trial's
attributes. A resumed study replays the stored history; a query whose prompt was already
answered (e.g. for a trial that was running when the driver was killed) is answered from the
stored exchange instead of asking the model again (``replayed: true`` in its log entry).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from llmhpo.exceptions import InvalidConfigError
from llmhpo.optimizers.base import BaseOptimizer, Capabilities, Observation, Suggestion
from llmhpo.optimizers.llm.backends import BackendError, Completion, LLMBackend, make_backend
from llmhpo.optimizers.llm.prompts import Entry, build_messages, repair_message
from llmhpo.optimizers.llm.schema import AnswerError, answer_schema, read_answer
from llmhpo.space import SearchSpace
from llmhpo.space.design import sobol

__all__ = ["LLMOptimizer", "LLMInitializer"]

_logger = logging.getLogger("llmhpo.optimizers.llm")

_MODES = ("chat", "compressed")


def _seed(*parts: int) -> int:
    ss = np.random.SeedSequence([int(p) for p in parts])
    return int(ss.generate_state(1, dtype=np.uint32)[0] & 0x7FFFFFFF)


class LLMOptimizer(BaseOptimizer):
    """An LLM as the optimizer: chat or compressed prompts, optional chain of thought.

    Args:
        space: the search space (per-variable ``description`` is shown to the model).
        mode: ``"compressed"`` (one message with the history as lines; cheaper) or ``"chat"``
            (the whole dialogue).
        cot: ask for a short analysis before each config (chain of thought).
        expert: system message "You are a machine learning expert." (the paper's default).
        backend: ``"local"`` (a ``transformers`` model, default the built-in
            SmolLM2-135M-Instruct; no network, no key) or ``"openai"`` (any OpenAI-compatible
            server).
        model: the local model spec, or the server's model name.
        base_url: the server's URL (``openai`` backend), e.g. ``http://127.0.0.1:8000/v1``.
        api_key_env: environment variable holding the API key (never stored).
        task: what is being tuned, in words ("a support vector machine on the wine dataset,
            trained with scikit-learn"); the study passes the objective's description.
        budget: total evaluations (stated in the prompt; the last request says "This is the
            last try."); the study passes its budget.
        temperature: 0 is greedy decoding (the paper's setting).
        max_tokens: tokens per answer (default 160, 480 with ``cot``).
        timeout: seconds per server request.
        max_retries: server retries on 429/5xx/connection errors (exponential backoff).
        repair_tries: re-prompts after an unusable answer before the fallback point.
        response_format: ``openai`` backend: ``auto``, ``json_schema`` or ``none``.
        constrained: ``local`` backend: schema-constrained decoding (xgrammar).
        device: ``local`` backend device.
        price_input / price_output: USD per million input / output tokens (cost per trial).
        max_total_tokens / max_cost: a budget of tokens (in + out) / USD; once spent, the
            remaining proposals are space-filling fallbacks (``fallback_reason`` says why).
        seed: seed of sampling and of the fallback design.
    """

    name: ClassVar[str] = "llm"
    capabilities: ClassVar[Capabilities] = Capabilities(budget_param="budget")

    def __init__(
        self,
        space: SearchSpace,
        *,
        mode: str = "compressed",
        cot: bool = False,
        expert: bool = True,
        backend: str = "local",
        model: str | None = None,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        task: str | None = None,
        budget: int | None = None,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        repair_tries: int = 2,
        response_format: str = "auto",
        constrained: bool = True,
        device: str = "cpu",
        price_input: float = 0.0,
        price_output: float = 0.0,
        max_total_tokens: int | None = None,
        max_cost: float | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(space, seed=seed)
        if mode not in _MODES:
            raise InvalidConfigError(f"optimizer.mode must be one of {list(_MODES)}, got {mode!r}")
        for key, value in (("repair_tries", repair_tries), ("max_retries", max_retries)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidConfigError(
                    f"optimizer.{key} must be a non-negative integer, got {value!r}"
                )
        for key, value in (("temperature", temperature), ("timeout", timeout),
                           ("price_input", price_input), ("price_output", price_output)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise InvalidConfigError(f"optimizer.{key} must be a number >= 0, got {value!r}")
        for key, value in (("budget", budget), ("max_tokens", max_tokens),
                           ("max_total_tokens", max_total_tokens)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                      or value < 1):
                raise InvalidConfigError(
                    f"optimizer.{key} must be a positive integer or null, got {value!r}"
                )
        if max_cost is not None and (not isinstance(max_cost, (int, float)) or max_cost <= 0):
            raise InvalidConfigError(f"optimizer.max_cost must be a number > 0, got {max_cost!r}")
        self.mode = mode
        self.cot = bool(cot)
        self.expert = bool(expert)
        self.backend_name = backend
        self.model = model
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.task = task
        self.budget = budget
        self.temperature = float(temperature)
        self.max_tokens = max_tokens
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.repair_tries = repair_tries
        self.response_format = response_format
        self.constrained = bool(constrained)
        self.device = device
        self.price_input = float(price_input)
        self.price_output = float(price_output)
        self.max_total_tokens = max_total_tokens
        self.max_cost = None if max_cost is None else float(max_cost)
        self._backend_obj: LLMBackend | None = None
        # the backend is checked now (a bad name is a config error); it is built lazily
        make_backend(backend, model=model, base_url=base_url, api_key_env=api_key_env,
                     response_format=response_format)
        self._answers: dict[str, dict[str, Any]] = {}  # prompt key -> stored exchange

    # ----- backend ------------------------------------------------------------------------
    @property
    def backend(self) -> LLMBackend:
        """The backend (built on first use)."""
        if self._backend_obj is None:
            self._backend_obj = make_backend(
                self.backend_name, model=self.model, base_url=self.base_url,
                api_key_env=self.api_key_env, timeout=self.timeout,
                max_retries=self.max_retries, response_format=self.response_format,
                device=self.device, constrained=self.constrained,
            )
        return self._backend_obj

    def preflight(self) -> None:
        """Check that the backend can answer (model present, server reachable) before a
        study records anything."""
        self.backend.preflight()

    def recall(self, attrs: Mapping[str, Any]) -> None:
        """Remember the exchanges stored in a trial's attributes (a trial that was running when
        the driver stopped), so the same prompt is answered from them, not asked again."""
        for entry in attrs.get("llm_log") or ():
            if isinstance(entry, Mapping) and entry.get("key") and "response" in entry:
                self._answers.setdefault(str(entry["key"]), dict(entry))

    # ----- history ------------------------------------------------------------------------
    def _history(self, batch: Sequence[tuple[dict[str, Any], dict[str, Any]]]) -> list[Entry]:
        """Known configurations in the order they were asked (warm-start points first)."""
        rows: list[tuple[float, int, Entry]] = []
        for i, o in enumerate(self.observations):
            status = "failed" if o.failed else "done"
            rows.append((self._step_of(o.attrs), i,
                         Entry(o.params, status, o.value, o.error, self._answer_of(o.attrs))))
        for i, s in enumerate(self._pending.values()):
            rows.append((self._step_of(s.attrs), 10**6 + i,
                         Entry(s.params, "pending", answer=self._answer_of(s.attrs))))
        for i, (p, a) in enumerate(batch):
            rows.append((self._step_of(a), 2 * 10**6 + i,
                         Entry(p, "pending", answer=self._answer_of(a))))
        rows.sort(key=lambda r: (r[0], r[1]))
        return [e for _, _, e in rows]

    @staticmethod
    def _step_of(attrs: Mapping[str, Any]) -> float:
        step = attrs.get("llm_step")
        return -1.0 if step is None else float(step)

    @staticmethod
    def _answer_of(attrs: Mapping[str, Any]) -> str | None:
        if attrs.get("proposal") in ("llm", "repaired"):
            return attrs.get("llm_answer")
        return None

    def _spent(self, batch: Sequence[tuple[dict[str, Any], dict[str, Any]]]) -> tuple[int, float]:
        """Tokens (in + out) and cost spent by the known proposals of this run."""
        attrs = ([o.attrs for o in self.observations] + [s.attrs for s in self._pending.values()]
                 + [a for _, a in batch])
        tokens = sum(int(a.get("llm_tokens_in", 0)) + int(a.get("llm_tokens_out", 0))
                     for a in attrs)
        cost = sum(float(a.get("llm_cost", 0.0)) for a in attrs)
        return tokens, cost

    def _over_budget(self, batch: Sequence[tuple[dict[str, Any], dict[str, Any]]],
                     extra_tokens: int, extra_cost: float) -> str | None:
        tokens, cost = self._spent(batch)
        tokens, cost = tokens + extra_tokens, cost + extra_cost
        if self.max_total_tokens is not None and tokens >= self.max_total_tokens:
            return f"token budget spent ({tokens} of {self.max_total_tokens} tokens)"
        if self.max_cost is not None and cost >= self.max_cost:
            return f"cost budget spent (${cost:.4f} of ${self.max_cost:.4f})"
        return None

    # ----- ask ----------------------------------------------------------------------------
    def _ask(self, n: int) -> list[tuple[np.ndarray, dict[str, Any]]]:
        batch: list[tuple[dict[str, Any], dict[str, Any]]] = []
        out: list[tuple[np.ndarray, dict[str, Any]]] = []
        for _ in range(n):
            step = len(self.observations) + len(self._pending) + len(batch)
            params, attrs = self._propose(step, batch)
            batch.append((params, attrs))
            out.append((self.space.encode(params), attrs))
        return out

    def _known_keys(self, batch: Sequence[tuple[dict[str, Any], dict[str, Any]]]) -> set[Any]:
        keys = {self.space.key(o.params) for o in self.observations}
        keys |= {self.space.key(s.params) for s in self._pending.values()}
        keys |= {self.space.key(p) for p, _ in batch}
        return keys

    def _propose(
        self, step: int, batch: Sequence[tuple[dict[str, Any], dict[str, Any]]]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        messages = build_messages(
            self.space, self._history(batch), mode=self.mode, cot=self.cot, expert=self.expert,
            task=self.task, budget=self.budget,
        )
        schema = answer_schema(self.space, cot=self.cot)
        known = self._known_keys(batch)
        log: list[dict[str, Any]] = []
        totals = {"tokens_in": 0, "tokens_out": 0, "latency_s": 0.0, "cost": 0.0, "queries": 0}
        problem: str | None = None
        found: tuple[dict[str, Any], str, str | None] | None = None
        stop_reason: str | None = None
        for attempt in range(1 + self.repair_tries):
            stop_reason = self._over_budget(
                batch, totals["tokens_in"] + totals["tokens_out"], totals["cost"])
            if stop_reason:
                break
            entry, completion = self._query(messages, schema, step, attempt)
            log.append(entry)
            if not entry.get("replayed"):
                totals["queries"] += 1
                totals["cost"] += entry["cost"]
                totals["tokens_in"] += entry["tokens_in"]
                totals["tokens_out"] += entry["tokens_out"]
                totals["latency_s"] += entry["latency_s"]
            if completion is None:  # no answer at all (server error after its retries)
                problem = entry["error"]
                continue
            try:
                params, analysis = read_answer(completion.text, self.space)
            except AnswerError as exc:
                problem = str(exc)
            else:
                if self.space.key(params) not in known:
                    found = (params, completion.text, analysis)
                    break
                shown = json.dumps({v.name: params[v.name] for v in self.space.free})
                problem = (f"the config {shown} was already evaluated or is being evaluated; "
                           "choose a different one")
            messages = [*messages, {"role": "assistant", "content": completion.text},
                        repair_message(problem, self.space, self.cot)]
        attrs: dict[str, Any] = {
            "llm_step": step,
            "llm_mode": self.mode,
            "llm_model": self.backend.model,
            "llm_queries": totals["queries"],
            "llm_tokens_in": totals["tokens_in"],
            "llm_tokens_out": totals["tokens_out"],
            "llm_latency_s": round(totals["latency_s"], 4),
            "llm_cost": totals["cost"],
        }
        if found is not None:
            params, text, analysis = found
            attrs["proposal"] = "llm" if len(log) == 1 else "repaired"
            attrs["llm_answer"] = text
            if analysis:
                attrs["llm_analysis"] = analysis
            if problem and len(log) > 1:
                attrs["llm_error"] = problem
        else:
            params = self._fallback(step, batch)
            attrs["proposal"] = "fallback"
            attrs["fallback_reason"] = stop_reason or f"no usable answer: {problem}"
            if stop_reason:
                _logger.warning("LLM optimizer: %s; proposing space-filling points", stop_reason)
        attrs["llm_log"] = log
        return params, attrs

    def _query(
        self, messages: list[dict[str, str]], schema: dict[str, Any], step: int, attempt: int
    ) -> tuple[dict[str, Any], Completion | None]:
        """One exchange, answered from the stored ones when the same prompt was asked before."""
        max_tokens = self.max_tokens or (480 if self.cot else 160)
        qseed = _seed(0 if self.seed is None else self.seed + 1, step, attempt)
        key = hashlib.sha256(json.dumps(
            {"messages": messages, "schema": schema, "model": self.backend.model,
             "temperature": self.temperature, "max_tokens": max_tokens, "seed": qseed},
            sort_keys=True, default=str,
        ).encode()).hexdigest()[:32]
        stored = self._answers.get(key)
        if stored is not None:
            entry = {**stored, "replayed": True}
            if stored.get("response") is None:
                return entry, None
            return entry, Completion(str(stored["response"]), int(stored.get("tokens_in", 0)),
                                     int(stored.get("tokens_out", 0)), 0.0,
                                     stored.get("response_format"))
        entry: dict[str, Any] = {"key": key, "messages": messages, "seed": qseed}
        try:
            c = self.backend.complete(messages, schema, temperature=self.temperature,
                                      max_tokens=max_tokens, seed=qseed)
        except BackendError as exc:
            entry.update(response=None, error=str(exc), tokens_in=0, tokens_out=0,
                         latency_s=0.0, cost=0.0)
            _logger.warning("LLM optimizer: query failed: %s", exc)
            return entry, None
        cost = (c.tokens_in * self.price_input + c.tokens_out * self.price_output) / 1e6
        entry.update(response=c.text, tokens_in=c.tokens_in, tokens_out=c.tokens_out,
                     latency_s=round(c.latency_s, 4), cost=cost,
                     response_format=c.response_format)
        self._answers[key] = entry
        return entry, c

    def _fallback(
        self, step: int, batch: Sequence[tuple[dict[str, Any], dict[str, Any]]]
    ) -> dict[str, Any]:
        """The Sobol point farthest from every known point (a space-filling design)."""
        cand = sobol(256, self.space.dim, _seed(0 if self.seed is None else self.seed + 1,
                                                 step, 99))
        known = self._known_keys(batch)
        pts = [self.space.decode(c) for c in cand]
        fresh = [p for p in pts if self.space.key(p) not in known] or pts
        xs = [self.space.encode(p) for p in fresh]
        ref = [o.x for o in self.observations] + [s.x for s in self._pending.values()]
        ref += [self.space.encode(p) for p, _ in batch]
        if not ref:
            return fresh[0]
        r = np.array(ref)
        dist = [float(np.min(np.linalg.norm(r - x, axis=1))) for x in xs]
        return fresh[int(np.argmax(dist))]

    # ----- tell ---------------------------------------------------------------------------
    def _tell(self, obs: Observation, suggestion: Suggestion | None) -> None:
        self.recall(obs.attrs)

    def _config(self) -> dict[str, Any]:
        return {
            "mode": self.mode, "cot": self.cot, "expert": self.expert,
            "backend": self.backend_name, "model": self.model, "base_url": self.base_url,
            "api_key_env": self.api_key_env, "task": self.task, "budget": self.budget,
            "temperature": self.temperature, "max_tokens": self.max_tokens,
            "timeout": self.timeout, "max_retries": self.max_retries,
            "repair_tries": self.repair_tries, "response_format": self.response_format,
            "constrained": self.constrained, "device": self.device,
            "price_input": self.price_input, "price_output": self.price_output,
            "max_total_tokens": self.max_total_tokens, "max_cost": self.max_cost,
        }


class LLMInitializer:
    """The initial design of a model-based optimizer (BO, TPE) taken from an LLM (Zhang et al.
    2023, section 4.1: the LLM's first proposals initialize BO).

    The LLM optimizer it holds mirrors the host's history before each proposal (told points
    with their attributes, pending points as "being evaluated"), so the prompt, and with
    greedy decoding the answer, depends on the history only: a resumed host replays the same
    proposals.

    Args:
        host: the optimizer whose initial points are asked for.
        options: :class:`LLMOptimizer` keyword arguments (mode, backend, model, task, ...).
    """

    def __init__(self, host: BaseOptimizer, options: Mapping[str, Any] | None) -> None:
        opts = dict(options or {})
        opts.setdefault("seed", host.seed)
        try:
            self.llm = LLMOptimizer(host.space, **opts)
        except TypeError as exc:
            raise InvalidConfigError(f"optimizer.llm: {exc}") from None
        self.host = host

    def propose(self, batch: Sequence[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The next initial point, given the host's history and ``batch`` (points of the batch
        being asked); returns ``(params, attrs)``."""
        llm = self.llm
        llm.observations = []
        for o in self.host.observations:
            llm.tell_not_asked(o.params, o.value, o.attrs, error=o.error)
        pending = [(dict(s.params), dict(s.attrs)) for s in self.host.pending]
        pending += [(dict(p), {}) for p in batch]
        step = len(llm.observations) + len(pending)
        return llm._propose(step, pending)

    def preflight(self) -> None:
        self.llm.preflight()
