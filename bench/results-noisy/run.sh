#!/usr/bin/env bash
# The noisy suite's committed run (resumable). Fast contenders on 6 seeds, then the GP-based
# ones on 3: auto (told the task is noisy, it runs the noise-aware BO, i.e. exactly the
# bo-noisy variant with the same seed, so bo-noisy is not run twice), bo and optuna-gp.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PYTHONPATH="$PWD/src"
nice -n 10 python -m llmhpo.cli.main bench --suite noisy --seeds 6 --budgets 10,30,50 \
  --optimizers random,centre,soo-rand,bamsoo,mads,tpe,optuna-tpe,optuna-cmaes,ngopt \
  --out bench/results-noisy
nice -n 10 python -m llmhpo.cli.main bench --suite noisy --seeds 3 --budgets 10,30,50 \
  --optimizers auto,bo,optuna-gp --out bench/results-noisy
