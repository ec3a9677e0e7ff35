"""2-D toy trajectories of the LLM optimizer (Zhang et al. 2023, Figure 5).

Runs ``optimizer: llm`` (built-in SmolLM2-135M-Instruct, greedy, ``compressed`` prompts) and
random search on 2-D test functions, and draws each run's points in order on the function's
contour plot (the colour goes from the first to the last evaluation; a cross marks fallback
points, which are not the model's). Writes ``trajectories.png`` and ``trajectories.json`` (every
point, value and proposal kind) to the output directory.

    python benchmarks/llm_trajectories.py --functions branin,himmelblau --budget 20 \
        --out benchmarks/results/llm_trajectories
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def run(fn_name: str, optimizer: str, budget: int, seed: int) -> list[dict]:
    from llmhpo.bench.peers import task_text
    from llmhpo.objectives import get_function
    from llmhpo.optimizers import make_optimizer

    f = get_function(fn_name)
    kw = {"budget": budget, "task": task_text(fn_name)} if optimizer == "llm" else {}
    opt = make_optimizer(optimizer, f.space(), seed=seed, **kw)
    points = []
    for _ in range(budget):
        (s,) = opt.ask(1)
        v = float(f(s.params))
        opt.tell(s, v)
        points.append({**s.params, "value": v, "proposal": s.attrs.get("proposal", optimizer)})
    return points


def plot(results: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from llmhpo.objectives import get_function

    fns = sorted({k.split("/")[0] for k in results})
    opts = sorted({k.split("/")[1] for k in results})
    fig, axes = plt.subplots(len(fns), len(opts), figsize=(4.2 * len(opts), 3.8 * len(fns)),
                             squeeze=False)
    for i, fn in enumerate(fns):
        f = get_function(fn)
        x1, x2 = f.space().free
        g1, g2 = np.meshgrid(np.linspace(x1.low, x1.high, 120), np.linspace(x2.low, x2.high, 120))
        z = np.vectorize(lambda a, b, f=f, n1=x1.name, n2=x2.name: f({n1: a, n2: b}))(g1, g2)
        for j, o in enumerate(opts):
            ax = axes[i][j]
            ax.contourf(g1, g2, np.log1p(z - z.min()), levels=30, cmap="Greys")
            pts = results.get(f"{fn}/{o}", [])
            xs = [p[x1.name] for p in pts]
            ys = [p[x2.name] for p in pts]
            ax.plot(xs, ys, "-", color="tab:blue", lw=0.6, alpha=0.6)
            ok = [k for k, p in enumerate(pts) if p["proposal"] != "fallback"]
            fb = [k for k, p in enumerate(pts) if p["proposal"] == "fallback"]
            sc = ax.scatter([xs[k] for k in ok], [ys[k] for k in ok], c=ok, cmap="viridis",
                            vmin=0, vmax=max(1, len(pts) - 1), s=28, zorder=3)
            ax.scatter([xs[k] for k in fb], [ys[k] for k in fb], c="red", marker="x", s=28,
                       zorder=3, label="fallback")
            best = min(p["value"] for p in pts) if pts else float("nan")
            ax.set_title(f"{fn} / {o}: best {best:.3g}", fontsize=9)
            ax.set_xlabel(x1.name)
            ax.set_ylabel(x2.name)
            if fb:
                ax.legend(fontsize=7, loc="upper right")
        fig.colorbar(sc, ax=axes[i].tolist(), label="evaluation")
    fig.savefig(out, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--functions", default="branin,himmelblau")
    ap.add_argument("--optimizers", default="llm,random")
    ap.add_argument("--budget", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/results/llm_trajectories")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "trajectories.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    for fn in args.functions.split(","):
        for o in args.optimizers.split(","):
            key = f"{fn}/{o}"
            if key in results:
                continue
            t0 = time.perf_counter()
            results[key] = run(fn, o, args.budget, args.seed)
            print(f"{key}: best {min(p['value'] for p in results[key]):.4g} "
                  f"in {time.perf_counter() - t0:.0f} s", flush=True)
            path.write_text(json.dumps(results, indent=1))
    plot(results, out / "trajectories.png")
    print(out / "trajectories.png")


if __name__ == "__main__":
    main()
