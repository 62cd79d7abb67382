#!/usr/bin/env bash
# Install scaffold, its test tools, and the torch build the generated projects run on.
# torch and torchvision are pinned here, never left to a resolver.
set -euo pipefail
cd "$(dirname "$0")/.."
# From Debian, only when missing: tmux for trying `scaffold new`'s questions by hand,
# and the headless browser and its driver that tests/test_ui_browser.py drives
# (no browser is ever downloaded by selenium).
apt_packages=()
command -v tmux >/dev/null || apt_packages+=(tmux)
[ -x /usr/bin/chromium ] || apt_packages+=(chromium)
[ -x /usr/bin/chromedriver ] || apt_packages+=(chromium-driver)
if [ ${#apt_packages[@]} -gt 0 ]; then
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get install -y "${apt_packages[@]}"
fi
python -m pip install --quiet --disable-pip-version-check torch==2.14.1 torchvision==0.29.1
# This checkout's distribution is scaffold-torch ("scaffold" on PyPI is an unrelated
# package). An editable install under the old name, from this very checkout, would
# keep a second claim on the `scaffold` command: drop it first.
old=$(python -m pip show scaffold 2>/dev/null | sed -n 's/^Editable project location: //p' || true)
if [ -n "$old" ] && [ "$(cd "$old" 2>/dev/null && pwd -P)" = "$(pwd -P)" ]; then
    python -m pip uninstall --quiet --disable-pip-version-check -y scaffold
fi
python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
