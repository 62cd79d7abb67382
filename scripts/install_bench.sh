#!/usr/bin/env bash
# Install what `python -m bench` needs beyond scaffold's dev tools:
#   - Debian's full Fashion-MNIST (the bench lays it out for torchvision itself);
#   - valgrind and gcc, for the instruction counts of `--only instructions`;
#   - the peers it compares against, pytorch-ignite and Lightning, but only when
#     pip's dry run shows that installing them leaves torch exactly as it is.
# torch itself is never installed or upgraded here.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=()
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] ||
    apt_packages+=(dataset-fashion-mnist)
# valgrind (with its headers) and gcc: the `instructions` section only.
{ command -v valgrind && [ -f /usr/include/valgrind/callgrind.h ]; } >/dev/null ||
    apt_packages+=(valgrind)
command -v gcc >/dev/null || apt_packages+=(gcc)
if [ ${#apt_packages[@]} -gt 0 ]; then
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get install -y "${apt_packages[@]}"
fi

torch_version=$(python -c "import torch; print(torch.__version__.split('+')[0])")
pip_quiet=(--quiet --disable-pip-version-check)
for package in pytorch-ignite lightning; do
    plan=$(python -m pip install --disable-pip-version-check --dry-run "$package" 2>&1 || true)
    # "Would install ... torch-X.Y.Z ..." means the resolver wants another torch.
    if grep -Eq '^Would install.* torch-[0-9]' <<<"$plan"; then
        echo "skipping $package: it would replace torch $torch_version" >&2
        continue
    fi
    python -m pip install "${pip_quiet[@]}" "$package"
done
python -c "import torch; assert torch.__version__.startswith('$torch_version'), torch.__version__"
