"""Code generation as a hyperparameter, side by side (Zhang et al. 2023, Table 4).

Three ways to get a low validation error on one bundled tabular dataset, each with the same
number of trials:

- ``random``: random search over the paper's fixed configuration space (depth, width, batch
  size, learning rate, weight decay), each configuration trained by a fixed reference script
  (scikit-learn's ``MLPClassifier``);
- ``llm``: the LLM optimizer (``optimizer: llm``, compressed prompt) over the same space and
  the same reference script;
- ``codegen``: the LLM writes the training script itself (``objective: {type: codegen}``) for
  random configurations of the same space; failing scripts are sent back for repair.

Every script, the reference one included, runs in the same sandbox
(:mod:`llmhpo.objectives.codegen.sandbox`), so the three differ only in who chooses the
configuration and who writes the code. Writes ``codegen_table4.json`` (every trial: its
configuration, value or error, attempts, tokens, seconds) to the output directory and prints
the table. Resumable: finished (contender, seed) runs in the JSON are skipped.

    python benchmarks/codegen_table4.py --dataset breast_cancer --budget 10 \
        --codegen-budget 5 --repair-tries 1 --out benchmarks/results/codegen_table4
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

# The reference training script of the fixed-space contenders: a multilayer perceptron with
# the configuration's depth, width, batch size, learning rate and L2 penalty (weight decay).
REFERENCE_SCRIPT = """\
import json
import warnings

import numpy as np
from sklearn.neural_network import MLPClassifier

warnings.filterwarnings("ignore")
d = np.load("data.npz")
clf = MLPClassifier(hidden_layer_sizes=({width},) * {depth}, batch_size={batch_size},
                    learning_rate_init={learning_rate}, alpha={weight_decay},
                    max_iter=100, random_state=0)
clf.fit(d["X_train"], d["y_train"])
print(json.dumps({{"val_error": float(1.0 - clf.score(d["X_val"], d["y_val"]))}}))
"""


def reference(params: dict[str, Any], dataset: str, scratch: Path) -> dict[str, Any]:
    """The fixed reference script on ``params``, sandboxed."""
    from llmhpo.objectives.codegen.objective import _split
    from llmhpo.objectives.codegen.sandbox import run_sandboxed

    data, _ = _split(dataset)
    res = run_sandboxed(REFERENCE_SCRIPT.format(**params), scratch, files={"data.npz": data})
    if res.metrics is None or "val_error" not in res.metrics:
        return {"error": res.error or "no metric", "value": None}
    return {"value": float(res.metrics["val_error"]), "error": None}


def llm_opts(args: argparse.Namespace) -> dict[str, Any]:
    """Backend options shared by the ``llm`` and ``codegen`` contenders."""
    opts: dict[str, Any] = {}
    if args.base_url:
        opts.update(backend="openai", base_url=args.base_url)
    if args.model:
        opts["model"] = args.model
    return opts


def run(contender: str, seed: int, args: argparse.Namespace, scratch: Path) -> list[dict]:
    """One run of ``contender``: ``budget`` trials, each recorded whether it worked or not."""
    from llmhpo.objectives.codegen.objective import CodegenObjective, default_space
    from llmhpo.optimizers import make_optimizer

    space = default_space()
    budget = args.codegen_budget if contender == "codegen" else args.budget
    if contender == "llm":
        task = (f"a neural network (MLP) on the {args.dataset.replace('_', ' ')} dataset, "
                "trained with scikit-learn; the loss is the validation error rate "
                "(1 - accuracy)")
        opt = make_optimizer("llm", space, seed=seed, budget=budget, task=task, **llm_opts(args))
    else:
        opt = make_optimizer("random", space, seed=seed)
    coder = (CodegenObjective(args.dataset, llm=llm_opts(args), repair_tries=args.repair_tries,
                              max_tokens=args.max_tokens) if contender == "codegen" else None)
    trials = []
    for i in range(budget):
        (s,) = opt.ask(1)
        params = dict(s.params)
        t0 = time.perf_counter()
        row: dict[str, Any] = {"trial": i, "params": params,
                               "proposal": s.attrs.get("proposal", "random")}
        ctx = type("Ctx", (), {"workdir": None, "seed": seed * 1000 + i})()
        try:
            if coder is not None:
                m = coder(params, ctx)
                row.update(value=float(m["val_error"]), error=None, attempts=m["attempts"],
                           tokens_out=m["llm_tokens_out"])
            else:
                row.update(reference(params, args.dataset, scratch / f"{contender}-{seed}-{i}"))
        except Exception as exc:  # a failed trial is data, as in the study
            row.update(value=None, error=f"{type(exc).__name__}: {exc}"[:400])
        row["seconds"] = round(time.perf_counter() - t0, 2)
        opt.tell(s, row["value"], error=row["error"])
        trials.append(row)
        print(f"  {contender} seed {seed} trial {i}: "
              f"{row['value'] if row['value'] is not None else row['error'][:120]} "
              f"({row['seconds']} s)", flush=True)
    return trials


def table(results: dict[str, list[list[dict]]]) -> str:
    """Markdown: per contender, best validation error (mean over seeds), failures, time."""
    lines = ["| contender | trials / run | runs | best val error (mean) | per seed | "
             "failed trials | s / trial |", "|---|---|---|---|---|---|---|"]
    for name, runs in results.items():
        bests = [min((t["value"] for t in r if t["value"] is not None), default=None)
                 for r in runs]
        ok = [b for b in bests if b is not None]
        failed = sum(t["value"] is None for r in runs for t in r)
        n = sum(len(r) for r in runs)
        secs = statistics.mean(t["seconds"] for r in runs for t in r) if n else 0.0
        mean = f"{statistics.mean(ok):.4f}" if len(ok) == len(bests) and ok else "—"
        per = ", ".join("—" if b is None else f"{b:.4f}" for b in bests)
        lines.append(f"| {name} | {len(runs[0]) if runs else 0} | {len(runs)} | {mean} | "
                     f"{per} | {failed} / {n} | {secs:.1f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="breast_cancer")
    ap.add_argument("--contenders", default="random,llm,codegen")
    ap.add_argument("--budget", type=int, default=10, help="trials of random and llm")
    ap.add_argument("--codegen-budget", type=int, default=5, help="trials of codegen")
    ap.add_argument("--repair-tries", type=int, default=1)
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--out", default="benchmarks/results/codegen_table4")
    ap.add_argument("--base-url", default=None,
                    help="an OpenAI-compatible server (default: the built-in local model)")
    ap.add_argument("--model", default=None, help="the server's model name, or a local spec")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "codegen_table4.json"
    doc = json.loads(path.read_text()) if path.exists() else {"runs": {}}
    doc["settings"] = {k: getattr(args, k) for k in
                       ("dataset", "budget", "codegen_budget", "repair_tries", "max_tokens",
                        "base_url", "model")}
    import tempfile

    with tempfile.TemporaryDirectory(prefix="llmhpo-table4-") as tmp:
        for name in args.contenders.split(","):
            for seed in range(args.seeds):
                key = f"{name}/{seed}"
                if key in doc["runs"]:
                    continue
                t0 = time.perf_counter()
                doc["runs"][key] = run(name, seed, args, Path(tmp))
                print(f"{key}: {time.perf_counter() - t0:.0f} s", flush=True)
                path.write_text(json.dumps(doc, indent=1))
    grouped: dict[str, list[list[dict]]] = {}
    for key, trials in doc["runs"].items():
        grouped.setdefault(key.split("/")[0], []).append(trials)
    md = table(grouped)
    (out / "table.md").write_text(md + "\n")
    print(md)


if __name__ == "__main__":
    main()
