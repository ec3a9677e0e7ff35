#!/usr/bin/env bash
# The full benchmark whose results are committed in this directory (see docs/bench.md).
# Resumable: runs already in runs.csv are skipped, so re-running continues a killed run.
# Run from the repository root:  setsid nohup bash bench/results/run_full.sh > bench/results/run.log 2>&1 &
set -euo pipefail
OUT=${OUT:-bench/results}
# Synthetic: 17 tasks, 20 seeds; the GP-based bo and optuna-gp (about 15 s and 8 s per run of
# 50 evaluations on 2 cores) get 5 seeds.
python -m llmhpo.cli.main bench --suite synthetic --budgets 10,30,50 --seeds 20 --slow-seeds 5 \
    --workers 2 --out "$OUT"
# ML: 8 of the 12 default tasks (the digits tasks take 10-45 s per run of 50 evaluations,
# rf-breast_cancer 6 s), 20 seeds; bo and optuna-gp 3 seeds.
python -m llmhpo.cli.main bench --suite ml \
    --tasks svm-breast_cancer,svm-wine,svm-iris,lr-breast_cancer,lr-wine,lr-iris,rf-wine,rf-iris \
    --budgets 10,30,50 --seeds 20 --slow-seeds 3 --workers 2 --out "$OUT"
