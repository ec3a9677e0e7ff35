"""Bilevel-BO-SWA (Bao et al. 2025) against plain BO-GP, the default hyperparameters and SWA
alone, on the built-in LoRA task (SmolLM2-135M-Instruct), at equal numbers of training runs.

Contenders, per seed (the seed sets the training seed and the optimizers' seeds):

* ``default``: the space's default hyperparameters, one training run, no fusion;
* ``swa_default``: the same run, fused by plain SWA over its second half (fixed fusion:
  ``swa_start=0.5, stride=1, decay=1``) — how much SWA alone gives;
* ``bo``: BO-GP with logEI (outer loop only), ``--budget`` training runs, unfused;
* ``bilevel_<outer>_<inner>``: the four acquisition pairings, ``--budget`` training runs, each
  followed by an inner BO loop of ``--inner-budget`` fusions scored on training loss.

Every contender's best trial (by validation loss, as a user would pick it) is reported with its
held-out test loss. Training runs are shared: a configuration trained once (same
hyperparameters, same seed) keeps its checkpoints in memory, so the contenders' common
Latin-hypercube points cost one run; the printed ``trainings`` column counts the runs each
contender asked for, ``unique_trainings`` the runs really done. The cost of the inner loop
is printed as seconds of inner evaluation per outer trial.

    python benchmarks/bilevel_swa.py --seeds 0 1 --budget 5 --out benchmarks/results/bilevel_swa

Writes ``runs.csv`` (one row per contender and seed), ``summary.md`` and ``config.json``. Run
again with the same ``--out``, it resumes: contenders already in ``runs.csv`` are not re-run.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

FIXED_SWA = {"swa_start": 0.5, "stride": 1, "decay": 1.0}


def objective_config(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    return {
        "model": args.model,
        "device": "auto",
        "data": {"source": "builtin", "n_train": args.n_train, "n_val": 32, "n_test": 32,
                 "seed": 0},
        "train": {"steps": args.steps, "batch_size": args.batch_size, "max_seq_len": 96,
                  "warmup_steps": 1, "seed": seed, "system_prompt": "Answer briefly.",
                  "threads": args.threads},
        "eval": {"accuracy": "none", "batch_size": 32},
        "fusion": {"enabled": True, "checkpoint_every": args.checkpoint_every,
                   "inner_budget": args.inner_budget, "inner_n_init": 3,
                   "train_subset": args.train_subset},
    }


class Bench:
    """One seed's shared state: the objective (model loaded once) and the training memo."""

    def __init__(self, args: argparse.Namespace, seed: int) -> None:
        from llmhpo.objectives.lora.objective import LoRAObjective, default_space

        self.args, self.seed = args, seed
        self.obj = LoRAObjective(objective_config(args, seed))
        self.space = default_space()
        self.model, self.tok, _ = self.obj.model()
        self.memo: dict[tuple, Any] = {}
        self.train_seconds = 0.0

    def checkpoints(self, params: dict[str, Any]) -> Any:
        """The run's checkpoints (trained once per configuration and seed)."""
        from llmhpo.objectives.lora.fusion import CheckpointRecorder
        from llmhpo.objectives.lora.train import PARAM_DEFAULTS, lora_adapter, train_lora

        key = self.space.key(params)
        if key not in self.memo:
            tc = self.obj.train_config
            full = {**PARAM_DEFAULTS, **params}
            rec = CheckpointRecorder(self.args.checkpoint_every, tc.n_steps(self.args.n_train))
            t0 = time.perf_counter()
            with lora_adapter(self.model, full, tc.target_modules, tc.seed) as pm:
                try:
                    train_lora(pm, self.tok, self.obj.splits()["train"], full, tc, None,
                               on_step=rec)
                except FloatingPointError:
                    rec = None
            self.train_seconds += time.perf_counter() - t0
            self.memo[key] = (rec, full)
        return self.memo[key]

    def losses(self, params: dict[str, Any], fusion: str | dict | None) -> dict[str, float]:
        """Validation and test loss of the run at ``params``: unfused (``None``), a fixed
        fusion (a dict) or the inner loop's best fusion (``"ei"`` / ``"ucb"``)."""
        from llmhpo.objectives.lora.evaluate import response_scores
        from llmhpo.objectives.lora.fusion import (
            average_states,
            inner_search,
            load_state,
            select_checkpoints,
        )
        from llmhpo.objectives.lora.train import lora_adapter

        rec, full = self.checkpoints(params)
        if rec is None:
            return {"val_loss": math.nan, "test_loss": math.nan, "inner_s": 0.0}
        tc, a = self.obj.train_config, self.args
        sp = self.obj.splits()
        n_steps = tc.n_steps(a.n_train)
        out: dict[str, float] = {"inner_s": 0.0}
        with lora_adapter(self.model, full, tc.target_modules, tc.seed) as pm:

            def loss(state: Any, recs: Any) -> float:
                load_state(pm, state)
                return float(response_scores(pm, self.tok, recs, tc.max_seq_len, 32,
                                             tc.system_prompt)[0])

            def fused(f: dict) -> Any:
                idx, w = select_checkpoints(rec.steps, n_steps, f)
                return average_states([rec.states[i] for i in idx], w)

            if fusion is None:
                state = rec.states[-1]
            elif isinstance(fusion, dict):
                state = fused(fusion)
            else:
                t0 = time.perf_counter()
                subset = sp["train"][: a.train_subset]
                best, _ = inner_search(lambda f: loss(fused(f), subset), acq=fusion,
                                       budget=a.inner_budget, n_init=3, seed=self.seed)
                state = fused(best)
                out["inner_s"] = time.perf_counter() - t0
            out["val_loss"] = loss(state, sp["validation"])
            out["test_loss"] = loss(state, sp["test"])
        return out


def run_contender(bench: Bench, name: str) -> dict[str, Any]:
    from llmhpo.optimizers import make_optimizer

    a = bench.args
    if name in ("default", "swa_default"):
        params = bench.space.default_params()
        res = bench.losses(params, None if name == "default" else FIXED_SWA)
        return {"best_val_loss": res["val_loss"], "test_loss": res["test_loss"],
                "trainings": 1, "inner_s_per_trial": 0.0, "best_params": params}
    if name == "bo":
        opt, fusion = make_optimizer("bo", bench.space, seed=bench.seed, n_init=3,
                                     num_restarts=4, raw_samples=128), None
    else:
        _, outer, inner = name.split("_")
        opt = make_optimizer("bilevel_bo", bench.space, seed=bench.seed, n_init=3,
                             num_restarts=4, raw_samples=128, outer_acq=outer, inner_acq=inner)
        fusion = inner
    rows, inner_s = [], []
    for _ in range(a.budget):
        (s,) = opt.ask(1)
        res = bench.losses(dict(s.params), fusion)
        v = res["val_loss"]
        opt.tell(s, v if math.isfinite(v) else None)
        rows.append((v, res["test_loss"], dict(s.params)))
        inner_s.append(res["inner_s"])
    ok = [r for r in rows if math.isfinite(r[0])]
    best = min(ok, key=lambda r: r[0]) if ok else (math.nan, math.nan, {})
    return {"best_val_loss": best[0], "test_loss": best[1], "trainings": a.budget,
            "inner_s_per_trial": statistics.mean(inner_s), "best_params": best[2]}


CONTENDERS = ["default", "swa_default", "bo", "bilevel_ei_ei", "bilevel_ei_ucb",
              "bilevel_ucb_ei", "bilevel_ucb_ucb"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--budget", type=int, default=5, help="training runs per BO contender")
    p.add_argument("--inner-budget", type=int, default=6)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--n-train", type=int, default=128)
    p.add_argument("--checkpoint-every", type=int, default=2)
    p.add_argument("--train-subset", type=int, default=32)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--contenders", nargs="+", default=CONTENDERS, choices=CONTENDERS)
    p.add_argument("--out", default="benchmarks/results/bilevel_swa")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(vars(args), indent=2))
    rows = load_rows(out / "runs.csv")
    done = {(r["contender"], int(r["seed"])) for r in rows}
    for seed in args.seeds:
        todo = [name for name in args.contenders if (name, seed) not in done]
        if not todo:
            continue
        bench = Bench(args, seed)
        for name in todo:
            t0 = time.perf_counter()
            r = run_contender(bench, name)
            row = {"contender": name, "seed": seed, **{k: v for k, v in r.items()
                                                        if k != "best_params"},
                   "best_params": json.dumps(r["best_params"]),
                   "wall_s": time.perf_counter() - t0}
            rows.append(row)
            print(f"seed {seed} {name:16s} val {row['best_val_loss']:.4f} "
                  f"test {row['test_loss']:.4f} inner {row['inner_s_per_trial']:.1f}s/trial "
                  f"({row['wall_s']:.0f}s)", flush=True)
            with open(out / "runs.csv", "w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=list(rows[0]))
                w.writeheader()
                w.writerows(rows)
        print(f"seed {seed}: {len(bench.memo)} unique trainings, "
              f"{bench.train_seconds:.0f}s of training", flush=True)
    write_summary(rows, out / "summary.md", args)


def load_rows(path: Path) -> list[dict]:
    """Rows of an earlier run in the same output folder (the benchmark resumes from them)."""
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        for k, v in r.items():
            if k not in ("contender", "best_params"):
                r[k] = int(v) if k == "seed" else float(v)
    return rows


def write_summary(rows: list[dict], path: Path, args: argparse.Namespace) -> None:
    """The results table, plus the paired effect of fusion: a bilevel contender whose best
    trial is the same training run as BO-GP's best (same hyperparameters and seed) differs
    from it only by the fusion."""
    seeds = sorted({r["seed"] for r in rows})
    wall = sum(r["wall_s"] for r in rows)
    lines = [
        "# Bilevel-BO-SWA vs BO-GP, defaults and SWA alone (built-in LoRA task)", "",
        f"Model {args.model}, {args.steps} steps x batch {args.batch_size}, "
        f"{args.n_train} training examples, checkpoints every {args.checkpoint_every} steps, "
        f"{args.budget} training runs per BO contender (3 LHS), inner budget "
        f"{args.inner_budget} fusions on {args.train_subset} training examples; seeds "
        f"{seeds}; {wall / 60:.1f} min of contender wall time.", "",
        "| contender | mean best val loss | mean test loss of that trial | test loss per seed "
        "| inner s / trial |",
        "|---|---|---|---|---|",
    ]
    for name in CONTENDERS:
        rs = [r for r in rows if r["contender"] == name]
        if not rs:
            continue
        val = statistics.mean(r["best_val_loss"] for r in rs)
        test = statistics.mean(r["test_loss"] for r in rs)
        per = ", ".join(f"{r['test_loss']:.4f}" for r in rs)
        inner = statistics.mean(r["inner_s_per_trial"] for r in rs)
        lines.append(f"| {name} | {val:.4f} | {test:.4f} | {per} | {inner:.1f} |")
    lines += ["", "Paired effect of fusion (fused minus unfused, same training run; negative "
              "is better):", "", "| seed | contender | val loss | test loss |",
              "|---|---|---|---|"]
    for seed in seeds:
        by = {r["contender"]: r for r in rows if r["seed"] == seed}
        pairs = [("swa_default", "default")] + [
            (n, "bo") for n in CONTENDERS if n.startswith("bilevel")]
        for fused, plain in pairs:
            f, u = by.get(fused), by.get(plain)
            if f and u and f["best_params"] == u["best_params"]:
                lines.append(f"| {seed} | {fused} vs {plain} | "
                             f"{f['best_val_loss'] - u['best_val_loss']:+.4f} | "
                             f"{f['test_loss'] - u['test_loss']:+.4f} |")
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
