#!/usr/bin/env bash
# The main job, offline: lay out 5,000 real MNIST digits, generate a project, train it.
set -euo pipefail
cd "$(dirname "$0")/.."
python scripts/datasets.py mnist-sample .data
rm -rf .demo
scaffold new mytrainer --metrics accuracy,nll --cuda --output-dir .demo
cd .demo/mytrainer
python -m mytrainer.train --data-dir ../../.data --epochs 5 --output-dir runs
echo "metric history: .demo/mytrainer/runs/metrics.jsonl"
