"""The generated --cuda project on a GPU: its default device, the three precisions
(bfloat16 autocast, float32 with the DataLoader path, float16 with loss scaling), a
mid-epoch resume, and nccl under torchrun. Skipped where torch sees no CUDA device;
`bench/gpu.py` measures the same project's speed."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from scaffold.options import Options
from scaffold.project import create

from .conftest import cuda, read_history, run_python

pytestmark = cuda

# A GPU with bfloat16 (Ampere and later) never takes the float16 + GradScaler path
# on its own: pretend it lacks bfloat16, as a V100 or T4 does.
AS_IF_WITHOUT_BFLOAT16 = """\
import runpy, sys
import torch
torch.cuda.is_bf16_supported = lambda *args, **kwargs: False
sys.argv = ["mytrainer.train", *sys.argv[1:]]
runpy.run_module("mytrainer.train", run_name="__main__")
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    options = Options(
        name="mytrainer", cuda=True, amp=True, checkpoint=True, distributed=True
    )
    root = create(options, tmp_path_factory.mktemp("cuda"))
    (root / "as_if_without_bfloat16.py").write_text(AS_IF_WITHOUT_BFLOAT16)
    return root


def last_checkpoint(run_dir: Path) -> dict:
    newest = max((run_dir / "checkpoints").glob("checkpoint-*.pt"))
    # The tensors come back on the device they were saved from.
    return torch.load(newest, weights_only=True)


@pytest.mark.parametrize(
    "entry, extra, scaled",
    [
        (["-m", "mytrainer.train"], [], False),
        (["-m", "mytrainer.train"], ["--no-amp", "--loader", "classic"], False),
        (["as_if_without_bfloat16.py"], [], True),
    ],
    ids=["bfloat16-default", "float32-dataloader", "float16-loss-scaling"],
)
def test_trains_on_the_gpu_by_default_in_each_precision(
    project, mnist_root, entry, extra, scaled
):
    output = f"runs-{'-'.join(extra) or entry[-1]}"
    args = [
        *entry,
        "--data-dir",
        str(mnist_root),
        "--epochs",
        "5",
        "--output-dir",
        output,
        *extra,
    ]
    result = run_python(args, cwd=project)

    assert result.returncode == 0, result.stderr[-3000:]
    assert read_history(project / output / "metrics.jsonl")[-1]["accuracy"] >= 0.96
    state = last_checkpoint(project / output)
    # No --device given.
    assert all(tensor.is_cuda for tensor in state["model"].values())
    if scaled:
        # The scaler ran and is saved: its scale moved off the initial 2**16 as it
        # backed off after overflowing steps or grew after clean ones.
        assert 0 < state["scaler"]["scale"] < float("inf")
        assert (
            state["scaler"]["scale"] != 2.0**16
            or state["scaler"]["_growth_tracker"] > 0
        )
    else:
        assert state["scaler"] == {}  # a disabled scaler saves nothing


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
