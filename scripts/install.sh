#!/usr/bin/env bash
# Install scaffold, its test tools, and the torch build the generated projects run on.
# torch and torchvision are pinned here, never left to a resolver.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check torch==2.14.1 torchvision==0.29.1
python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
