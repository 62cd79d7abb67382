#!/usr/bin/env bash
# The main job, offline: lay out 5,000 real MNIST digits, generate a project, train it;
# then the same digits as a folder of image files, a project for them, and predict.
set -euo pipefail
cd "$(dirname "$0")/.."
python scripts/datasets.py mnist-sample .data
rm -rf .demo
# scaffold new's own hint names the data folder a new user would use; the demo's
# data lies in .data, so the demo says its own commands instead.
scaffold new mytrainer --metrics accuracy,nll --cuda --output-dir .demo --no-input \
    > /dev/null
echo "generated .demo/mytrainer; training it on .data"
(
    cd .demo/mytrainer
    python -m mytrainer.train --data-dir ../../.data --epochs 5 --output-dir runs
)
echo "metric history: .demo/mytrainer/runs/metrics.jsonl"

python scripts/datasets.py digits-folder .data/digits
scaffold new myimages --data imagefolder --output-dir .demo --no-input > /dev/null
echo "generated .demo/myimages; training it on .data/digits"
cd .demo/myimages
python -m myimages.train --data-dir ../../.data/digits --epochs 5 --output-dir runs \
    --cache-dir ../.cache
python -m myimages.predict --checkpoint runs/model.pt ../../.data/digits/val \
    --output runs/predictions.csv > /dev/null
echo "predictions for the validation folder: .demo/myimages/runs/predictions.csv"
echo "train again: cd .demo/myimages && python -m myimages.train" \
    "--data-dir ../../.data/digits --cache-dir ../.cache --output-dir runs-2"
