#!/usr/bin/env bash
# The model-based contenders of the de-biased suite (fewer seeds: 0.3-1 s per suggestion).
# Written to a separate CSV while run.sh runs (two writers, one file each), then merged into
# runs.csv (see docs/bench.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PYTHONPATH="$PWD/src"
nice -n 10 python -m llmhpo.cli.main bench --suite debiased --seeds 3 --budgets 10,30,50 \
  --tasks rs_branin,rs_hartmann6,rs_rosenbrock5,rs_styblinski_tang,rs_schwefel,rs_michalewicz \
  --optimizers bo,optuna-gp,smac --workers 2 --out bench/results-debiased/gp
