"""Hub ids for the model and the data, through the real Hugging Face client code
(transformers, datasets, huggingface_hub) against a hub served on 127.0.0.1
(``local_hub.LocalHub``): `llmhpo run` in a subprocess with ``HF_ENDPOINT`` pointing at it."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml
from cli_helpers import llmhpo_cmd
from local_hub import LocalHub
from lora_tiny import make_tiny_llama, make_tokenizer

from llmhpo.study import load_study

MODEL, DATA = "llmhpo-test/tiny-llama", "llmhpo-test/alpaca-mini"


@pytest.fixture(scope="module")
def hub_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    tok = make_tokenizer()
    model_dir = root / "models" / MODEL
    make_tiny_llama(tok).save_pretrained(str(model_dir))
    tok.save_pretrained(str(model_dir))
    data_dir = root / "datasets" / DATA
    data_dir.mkdir(parents=True)
    with open(data_dir / "train.jsonl", "w") as f:
        for i in range(24):
            f.write(json.dumps({"instruction": f"Add {i} and 1.", "input": "",
                                "output": str(i + 1)}) + "\n")
    return root


def _run(tmp_path, name: str, model: str, data: str, env: dict) -> subprocess.CompletedProcess:
    cfg = {
        "study_name": name,
        "storage": f"sqlite:///{tmp_path}/{name}.db",
        "budget": 2,
        "seed": 0,
        "optimizer": {"name": "random"},
        "objective": {
            "type": "lora", "model": model, "device": "cpu",
            "data": {"sources": [{"path": data, "ratio": 1.0}],
                     "n_train": 12, "n_val": 4, "n_test": 4, "seed": 0},
            "train": {"steps": 2, "batch_size": 4, "max_seq_len": 64},
            "eval": {"accuracy": "forced", "batch_size": 8},
            "artifacts": {"save_adapters": False},
        },
        "space": {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}},
        "execution": {"workdir": str(tmp_path / f"{name}-work")},
        "report": str(tmp_path / f"{name}-report"),
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    full_env = {**os.environ, "HF_HOME": str(tmp_path / "hf-home"),
                "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_ETAG_TIMEOUT": "5",
                "HF_HUB_DOWNLOAD_TIMEOUT": "5", **env}
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        if key not in env:
            full_env.pop(key, None)
    return subprocess.run([*llmhpo_cmd(), "run", str(path), "--quiet"], env=full_env,
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)


def test_hub_model_and_dataset_are_downloaded_once_then_run_offline(hub_root, tmp_path):
    with LocalHub(hub_root) as hub:
        res = _run(tmp_path, "online", MODEL, DATA, {"HF_ENDPOINT": hub.url})
        assert res.returncode == 0, res.stderr[-3000:]
        # the weights and the data file came through the hub client, once for the whole
        # study (2 reference rows + 2 trials share one load per process)
        assert hub.gets("/model.safetensors") == 1
        assert hub.gets("/train.jsonl") == 1
        assert hub.gets("/tokenizer.json") == 1
    study = load_study("online", f"sqlite:///{tmp_path}/online.db")
    done = [t for t in study.trials if t.state.value == "complete"]
    assert len(done) == 2
    assert all(0 < t.metrics["val_loss"] < 20 for t in done)
    # the hub is gone: offline mode runs a new study from the Hugging Face cache
    res = _run(tmp_path, "offline", MODEL, DATA,
               {"HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "1"})
    assert res.returncode == 0, res.stderr[-3000:]
    offline = load_study("offline", f"sqlite:///{tmp_path}/offline.db")
    assert sorted(t.metrics["val_loss"] for t in offline.trials) == pytest.approx(
        sorted(t.metrics["val_loss"] for t in done), abs=1e-6)  # same seed, same data


@pytest.mark.parametrize(
    ("model", "data", "named"),
    [("llmhpo-test/no-such-model", DATA, "hub id 'llmhpo-test/no-such-model'"),
     (MODEL, "llmhpo-test/no-such-data", "data source 'llmhpo-test/no-such-data'")],
)
def test_a_missing_hub_repo_is_one_error_line_and_no_trial(hub_root, tmp_path, model, data,
                                                           named):
    with LocalHub(hub_root) as hub:
        res = _run(tmp_path, "bad", model, data, {"HF_ENDPOINT": hub.url})
    assert res.returncode == 2
    errors = [line for line in res.stderr.splitlines() if line.startswith("llmhpo: error:")]
    assert len(errors) == 1 and named in errors[0], res.stderr[-3000:]
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "bad.db").exists()  # the check runs before any storage is made
