"""Run the bad-input corpus of tests/robust/test_bad_inputs.py through real ``llmhpo``
subprocesses against a given source tree, and count the cases handled well.

A case is handled well when the command exits with status 2 within the time limit, prints
exactly one ``llmhpo: error:`` line naming what the test expects, no traceback, and leaves
the working directory unchanged. Used for the before/after figure of docs/reliability.md::

    git archive <commit> src | tar -x -C /tmp/before
    python benchmarks/bad_inputs.py --src /tmp/before/src --label before
    python benchmarks/bad_inputs.py --src src --label after
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "robust"))
sys.path.insert(0, str(ROOT / "tests"))

from test_bad_inputs import CASES, _prepare, _snapshot  # noqa: E402

MAKE_DB = (
    "from llmhpo.study import create_study\n"
    "s = create_study({'x': {'type': 'float', 'low': 0.0, 'high': 1.0}}, "
    "storage='sqlite:///s.db', study_name='s', budget=1)\n"
    "s.optimize(lambda p, ctx: p['x'])\n"
)


def run_one(case, src: Path, timeout: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        env["PYTHONPATH"] = os.pathsep.join(
            [str(src), str(ROOT / "tests" / "robust"), str(ROOT / "tests"), str(root)]
        )
        setup, case.setup = case.setup, None
        _prepare(case, root)
        case.setup = setup
        if setup == "db":
            subprocess.run([sys.executable, "-c", MAKE_DB], cwd=root, env=env, check=True,
                           capture_output=True, timeout=120)
        before = _snapshot(root)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, "-m", "llmhpo.cli.main", *case.argv],
                                  cwd=root, env=env, capture_output=True, text=True,
                                  errors="replace", timeout=timeout)
            code, err = proc.returncode, proc.stderr
        except subprocess.TimeoutExpired as exc:
            code, err = None, (exc.stderr or b"").decode("utf-8", "replace")
        wall = time.perf_counter() - t0
        after = _snapshot(root)
    lines = [line for line in err.splitlines() if line.strip()]
    problems = []
    if code is None:
        problems.append(f"no answer within {timeout:.0f} s")
    elif code != 2:
        problems.append(f"exit {code}")
    if "Traceback" in err:
        problems.append("traceback")
    if len(lines) != 1 or not lines[0].startswith("llmhpo: error: "):
        problems.append(f"{len(lines)} stderr lines")
    elif any(f not in lines[0] for f in case.fragments):
        problems.append("message lacks " + str([f for f in case.fragments if f not in lines[0]]))
    if after != before:
        problems.append("created/changed " + str(sorted(set(after) ^ set(before))[:3]))
    return {"case": case.id, "ok": not problems, "problems": "; ".join(problems),
            "exit": code, "stderr_bytes": len(err), "wall_s": round(wall, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", required=True, help="the src/ directory of the code to try")
    ap.add_argument("--label", required=True)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "bad_inputs"))
    ap.add_argument("--cases", help="comma-separated case ids (default: all)")
    args = ap.parse_args()
    src = Path(args.src).resolve()
    cases = CASES if not args.cases else [c for c in CASES if c.id in args.cases.split(",")]
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(lambda c: run_one(c, src, args.timeout), cases))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with (out / f"{args.label}.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    ok = sum(bool(r["ok"]) for r in rows)
    # the criterion alone: exit 2, one error line, no traceback, nothing written (the
    # exact wording of the message aside)
    strict = sum(not r["problems"] or r["problems"].startswith("message lacks") for r in rows)
    print(f"{args.label}: {ok}/{len(rows)} bad inputs handled well "
          f"({100 * ok / len(rows):.0f} %); {len(rows) - ok} not; exit 2 + one line + no "
          f"traceback + nothing written: {strict}/{len(rows)} ({100 * strict / len(rows):.0f} %)")
    for r in rows:
        if not r["ok"]:
            print(f"  {r['case']}: {r['problems']}")


if __name__ == "__main__":
    main()
