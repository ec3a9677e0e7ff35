#!/usr/bin/env bash
# auto on the de-biased suite (same seeds and CSV as run.sh; run after it). To re-run auto
# after a change, drop its rows from runs.csv first (finished runs are skipped).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PYTHONPATH="$PWD/src"
nice -n 10 python -m llmhpo.cli.main bench --suite debiased --seeds 10 --budgets 10,30,50 \
  --optimizers auto --workers 1 --out bench/results-debiased
