"""The codegen objective: LLM-written scripts (served by a real OpenAI-compatible server on
127.0.0.1) run in the sandbox; code that reaches for the network, writes outside its directory
or exceeds its limits is a FAILED trial with the reason, never a crash."""

from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path

import pytest

from llmhpo.study import TrialState, create_study

pytest.importorskip("openai")
pytest.importorskip("sklearn")
if shutil.which("bwrap") is None:
    pytest.skip("bubblewrap (bwrap) is not installed", allow_module_level=True)

from llm_server import MODEL, ScriptedLLMServer  # noqa: E402

from llmhpo.objectives.codegen import (  # noqa: E402
    CodegenObjective,
    SandboxLimits,
    default_space,
)

GOOD = '''```python
import json
import numpy as np
d = np.load("data.npz")
X, y, Xv, yv = d["X_train"], d["y_train"], d["X_val"], d["y_val"]
k = int(y.max()) + 1
W = np.zeros((X.shape[1], k))
for _ in range(200):  # softmax regression, full-batch gradient descent
    z = X @ W
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    W -= 0.5 * X.T @ (p - np.eye(k)[y]) / len(y)
print("training done")
print(json.dumps({"val_error": float(np.mean((Xv @ W).argmax(1) != yv))}))
```'''


def _fenced(code: str) -> str:
    return f"Here is the script:\n```python\n{code}\n```"


@pytest.fixture(scope="module")
def server():
    with ScriptedLLMServer() as srv:
        yield srv


def test_sandbox_failures_are_recorded_trials(tmp_path, server):
    target = f"{server.url}/models"
    urllib.request.urlopen(target, timeout=5).read()  # reachable from outside the sandbox
    # outside the scratch directory and outside /tmp (the sandbox has a private, empty /tmp)
    outside = Path.home() / f".llmhpo-sandbox-escape-{tmp_path.name}.txt"
    server.contents[:] = [
        _fenced(f"import urllib.request\nurllib.request.urlopen({target!r}, timeout=5)"),
        _fenced(f"open({str(outside)!r}, 'w').write('escaped')"),
        _fenced("while True:\n    pass"),
        _fenced("x = bytearray(4 * 1024 ** 3)"),
        GOOD,
        _fenced("import time\ntime.sleep(600)"),
    ]
    def from_urllib():  # requests made with urllib (the client of the escaping script)
        return sum("Python-urllib" in str(r["headers"]) for r in server.requests)

    n_urllib = from_urllib()
    obj = CodegenObjective("iris", llm={"backend": "openai", "model": MODEL,
                                        "base_url": server.url},
                           repair_tries=0, cpu_s=1, memory_mb=1024, wall_s=120)
    study = create_study(default_space(), optimizer="random", storage=f"sqlite:///{tmp_path}/c.db",
                         study_name="codegen", budget=5, seed=0, metric="val_error")
    study.optimize(obj, workdir=tmp_path / "work")
    obj.limits = SandboxLimits(cpu_s=60, memory_mb=1024, wall_s=2)  # the sleeper: wall clock
    study.optimize(obj, budget=6, workdir=tmp_path / "work")
    t = study.trials
    states = [TrialState.FAILED] * 4 + [TrialState.COMPLETE, TrialState.FAILED]
    assert [x.state for x in t] == states
    assert "Connection refused" in t[0].error or "Network is unreachable" in t[0].error
    assert from_urllib() == n_urllib  # the server never saw the sandboxed request
    assert "Read-only file system" in t[1].error and not outside.exists()
    assert "CPU time limit of 1 s exceeded" in t[2].error
    assert "memory limit of 1024 MB exceeded" in t[3].error
    assert 0.0 <= t[4].value < 0.3 and t[4].metrics["attempts"] == 1
    assert "wall-clock limit of 2 s exceeded" in t[5].error
    # the script and its scratch files stay in the trial's own directory
    assert (tmp_path / "work" / "trial_4" / "attempt_0" / "train.py").is_file()


def test_failing_script_is_repaired_with_the_error(tmp_path, server):
    server.contents[:] = [_fenced("import numpy as np\nprint(np.load('data.npz')['X_tr'])"), GOOD]
    n0 = len(server.chat_requests)
    obj = CodegenObjective("wine", llm={"backend": "openai", "model": MODEL,
                                        "base_url": server.url}, repair_tries=1, wall_s=60)
    out = obj({"depth": 1, "width": 16, "batch_size": 8, "learning_rate": 0.01,
               "weight_decay": 1e-4})
    assert out["attempts"] == 2 and 0.0 <= out["val_error"] < 0.3
    second = server.chat_requests[n0 + 1]["body"]["messages"]
    assert second[-1]["content"].startswith("Running the script failed: exit status 1: "
                                            "KeyError: 'X_tr is not a file in the archive'")
    assert "learning_rate = 0.01" in second[1]["content"]
