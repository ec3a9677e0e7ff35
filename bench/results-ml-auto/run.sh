#!/usr/bin/env bash
# auto against the fast contenders on 4 of the ML tasks with the current code (5 seeds).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PYTHONPATH="$PWD/src"
nice -n 10 python -m llmhpo.cli.main bench --suite ml --seeds 5 --budgets 10,30,50 \
  --tasks svm-wine,svm-iris,lr-iris,rf-iris \
  --optimizers random,centre,bamsoo,mads,tpe,optuna-tpe,optuna-cmaes,ngopt,auto \
  --out bench/results-ml-auto
