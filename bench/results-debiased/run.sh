#!/usr/bin/env bash
# The de-biased suite's committed run (resumable: re-run after a kill, finished runs are skipped).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PYTHONPATH="$PWD/src"
nice -n 10 python -m llmhpo.cli.main bench --suite debiased --seeds 10 --budgets 10,30,50 \
  --optimizers random,centre,lhs,soo,soo-rand,bamsoo,bamsoo-rand,mads,tpe,optuna-tpe,optuna-cmaes,ngopt \
  --out bench/results-debiased
