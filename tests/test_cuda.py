"""A generated project on a GPU, where every project trains without asking: the
default device, the precision --amp picks there (bfloat16 autocast by default,
float32 with --amp off, float16 with loss scaling where bfloat16 is missing),
--device choosing the CPU or a GPU the machine lacks, a mid-epoch resume, and
nccl under torchrun. Skipped where torch sees no CUDA device (the CPU side of
--device and --amp runs in test_run_features.py); `bench/gpu.py` measures the same
project's speed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from scaffold.options import Options
from scaffold.project import create

from .conftest import cuda, read_history, run_python

pytestmark = cuda

# train.main with a note of the dtype the first convolution computed in while
# training, printed at the end. AS_IF_WITHOUT_BFLOAT16 makes a GPU with bfloat16
# (Ampere and later) take the float16 + GradScaler path, as a V100 or T4 does.
RUN = """
import os
import sys

import torch

from mytrainer import train

if os.environ.get("AS_IF_WITHOUT_BFLOAT16"):
    torch.cuda.is_bf16_supported = lambda *args, **kwargs: False
dtypes = set()


def note_dtype(module, inputs, output):
    if module.training:
        dtypes.add(str(output.dtype).removeprefix("torch."))


build_model = train.build_model


def recorded_model(*args, **kwargs):
    model = build_model(*args, **kwargs)
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    conv.register_forward_hook(note_dtype)
    return model


train.build_model = recorded_model
train.main(sys.argv[1:])
print("training convolutions in", " ".join(sorted(dtypes)))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = create(
        Options(name="mytrainer", checkpoint=True), tmp_path_factory.mktemp("cuda")
    )
    (root / "run.py").write_text(RUN)
    return root


def last_checkpoint(run_dir: Path) -> dict:
    newest = max((run_dir / "checkpoints").glob("checkpoint-*.pt"))
    # The tensors come back on the device they were saved from.
    return torch.load(newest, weights_only=True)


@pytest.mark.parametrize(
    "extra, env, dtype",
    [
        ([], {}, "bfloat16"),
        (["--amp", "off", "--loader", "dataloader"], {}, "float32"),
        ([], {"AS_IF_WITHOUT_BFLOAT16": "1"}, "float16"),
    ],
    ids=["amp-auto-bfloat16", "amp-off-float32-dataloader", "float16-loss-scaling"],
)
def test_trains_on_the_gpu_by_default_in_each_precision(
    project, mnist_root, extra, env, dtype
):
    output = f"runs-{dtype}"
    args = ["run.py", "--data-dir", str(mnist_root), "--epochs", "5"]
    result = run_python([*args, "--output-dir", output, *extra], cwd=project, **env)

    assert result.returncode == 0, result.stderr[-3000:]
    assert f"training convolutions in {dtype}\n" in result.stdout
    config = json.loads((project / output / "config.json").read_text())
    assert config["flags"]["amp"] == {"float32": "off"}.get(dtype, dtype)
    assert read_history(project / output / "metrics.jsonl")[-1]["accuracy"] >= 0.96
    state = last_checkpoint(project / output)
    # No --device given.
    assert all(tensor.is_cuda for tensor in state["model"].values())
    if dtype == "float16":
        # The scaler ran and is saved: its scale moved off the initial 2**16 as it
        # backed off after overflowing steps or grew after clean ones.
        assert 0 < state["scaler"]["scale"] < float("inf")
        assert (
            state["scaler"]["scale"] != 2.0**16
            or state["scaler"]["_growth_tracker"] > 0
        )
    else:
        assert state["scaler"] == {}  # a disabled scaler saves nothing


def test_device_cpu_trains_on_the_cpu_in_float32_beside_a_gpu(project, mnist_root):
    args = ["run.py", "--data-dir", str(mnist_root), "--epoch-length", "4"]
    result = run_python([*args, "--device", "cpu", "--output-dir", "cpu"], cwd=project)

    assert result.returncode == 0, result.stderr[-3000:]
    # --amp auto autocasts on CUDA devices only.
    assert "training convolutions in float32\n" in result.stdout
    state = last_checkpoint(project / "cpu")
    assert not any(tensor.is_cuda for tensor in state["model"].values())


def test_a_gpu_the_machine_lacks_is_a_one_line_usage_error(project, mnist_root):
    missing = f"cuda:{torch.cuda.device_count()}"
    args = ["-m", "mytrainer.train", "--data-dir", str(mnist_root)]
    result = run_python([*args, "--device", missing], cwd=project)

    assert result.returncode == 2
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .endswith(
            f"argument --device: {missing}: this machine has "
            f"{torch.cuda.device_count()} CUDA device(s)"
        )
    )
    assert not (project / "runs").exists()


def test_a_run_resumed_mid_epoch_on_the_gpu_ends_where_the_whole_run_does(
    project, mnist_root
):
    # Iterations 3 and 9 fall mid-epoch; with --accumulate 2 the one at 9 is between
    # the two halves of an optimizer step, so saved gradients must come back too.
    common = [
        "-m",
        "mytrainer.train",
        "--data-dir",
        str(mnist_root),
        "--epochs",
        "2",
        "--epoch-length",
        "6",
        "--checkpoint-every",
        "3",
        "--accumulate",
        "2",
        "--keep-last",
        "10",
    ]
    whole = run_python([*common, "--output-dir", "whole"], cwd=project)
    assert whole.returncode == 0, whole.stderr[-3000:]
    middle = project / "whole/checkpoints/checkpoint-00000009.pt"
    resumed = run_python(
        [*common, "--output-dir", "resumed", "--resume", str(middle)], cwd=project
    )

    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "at iteration 9" in resumed.stdout
    got = last_checkpoint(project / "resumed")
    expected = last_checkpoint(project / "whole")
    assert got["trainer"] == expected["trainer"]
    # cuDNN may pick kernels that add in a different order: equal up to rounding.
    for name, tensor in expected["model"].items():
        torch.testing.assert_close(
            got["model"][name], tensor, rtol=1e-4, atol=1e-5, msg=name
        )


def test_nccl_is_the_default_backend_under_torchrun(project, mnist_root):
    args = ["--data-dir", str(mnist_root), "--epochs", "5", "--output-dir", "nccl"]
    result = run_python(
        [
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=1",
            "-m",
            "mytrainer.train",
            *args,
        ],
        cwd=project,
        NCCL_DEBUG="VERSION",  # NCCL announces itself once its first communicator starts
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert "NCCL version" in result.stdout + result.stderr
    assert read_history(project / "nccl" / "metrics.jsonl")[-1]["accuracy"] >= 0.96
