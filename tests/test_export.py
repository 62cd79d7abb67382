"""Export: `python -m NAME.export` writes ONNX and torch.export files that give
model.pt's answers without the project's code.

Three models, each saved by the project's own save_model: `net` after a few
training steps on real digits, a torchvision resnet18 on gray images, and a
resnet18 shaped as --pretrained makes it (weights planted where torchvision's
weights API looks, 224-pixel crops of images resized to 256, ImageNet's
normalization). Each is
exported to both formats; onnxruntime and torch.export.load (not the project) run
the files on the held-out digits, against the model.pt through the path training
validates with. The files are then moved to another folder, where predict through
each gives predict's lines through model.pt. The README's onnxruntime example runs
without the project on the path. Bad inputs end in one `error:` line each.

Every program runs in one Python process per fixture, through main(argv), so that
torch is imported once for many runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlparse

import numpy as np
import pytest
import torch
from PIL import Image

from scaffold.options import Options
from scaffold.project import create
from scripts.datasets import sample_split

from .conftest import HELP_HINT, run_python
from .test_run_faults import NO_NETWORK

pytestmark = pytest.mark.slow  # runs generated programs

PACKAGE = "exptrainer"
TOLERANCE = 1e-4
FORMATS = ("onnx", "pt2")
# The held-out digits each model is compared on: the pretrained-shaped one works
# on 224-pixel crops, 60 times the pixels, so it takes the first few.
IMAGES = {"net": 500, "resnet18": 200, "pretrained": 16}

# In the project: train each model a few steps on real digits, save it with
# save_model, export it to both formats through export.main, and compare the files
# run by onnxruntime and torch.export.load with the model.pt on the held-out images.
EXPORT_AND_COMPARE = r"""
import contextlib, io, json, sys
import numpy as np
import onnxruntime
import torch
from {package} import export
from {package}.data.images import Preprocessing, find_images, load_image, normalize
from {package}.model import (
    ModelCard, build_model, load_saved_model, model_preprocessing, save_model
)

config = json.loads(sys.argv[1])
train = np.load(config["train"])
results = {{}}
for case in config["cases"]:
    name, folder = case["model"], case["folder"]
    torch.manual_seed(0)
    if case["pretrained"]:
        preprocessing = model_preprocessing(name, True)
        model = build_model(name, 10, 3, pretrained=True)
    else:
        channels = case["channels"]
        preprocessing = Preprocessing(channels, 28, 28, (0.13,) * channels, (0.31,) * channels)
        model = build_model(name, 10, channels)
    card = ModelCard(name, [str(digit) for digit in range(10)], preprocessing)
    # A few steps on the training digits: answers that are not near-ties. A
    # torchvision model trains its head alone, which costs a forward pass.
    if name != "net":
        model.freeze()
    trained = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimizer = torch.optim.Adam(trained, lr=1e-3)
    images = torch.from_numpy(train["images"][:, None]).expand(-1, preprocessing.channels, -1, -1)
    labels = torch.from_numpy(train["labels"])
    for step in range(case["steps"]):
        batch = slice(step * 32, step * 32 + 32)
        x = normalize(images[batch].contiguous(), preprocessing.mean, preprocessing.std)
        loss = torch.nn.functional.nll_loss(model(x), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    save_model(f"{{folder}}/model.pt", model, card, 1)

    ran = {{}}
    for file_format in ("onnx", "pt2"):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            export.main(["--checkpoint", f"{{folder}}/model.pt", "--format", file_format])
        ran[file_format] = out.getvalue()

    # The reference: model.pt through the path validation takes.
    model, card = load_saved_model(f"{{folder}}/model.pt")
    p = card.preprocessing
    paths = find_images(case["images"])
    batch = torch.stack([load_image(path, p.channels, p.image_size, p.resize_size) for path in paths])
    with torch.no_grad():
        reference = model(normalize(batch, p.mean, p.std)).exp()
    session = onnxruntime.InferenceSession(f"{{folder}}/model.onnx")
    metadata = session.get_modelmeta().custom_metadata_map
    (onnx_probabilities,) = session.run(None, {{"images": batch.numpy()}})
    extra = {{"model_card.json": ""}}
    program = torch.export.load(f"{{folder}}/model.pt2", extra_files=extra)
    with torch.no_grad():
        pt2_probabilities = program.module()(batch)
    got = {{"onnx": torch.from_numpy(onnx_probabilities), "pt2": pt2_probabilities}}
    results[case["id"]] = {{
        "printed": ran,
        "images": len(paths),
        "difference": {{f: (got[f] - reference).abs().max().item() for f in got}},
        "same_classes": {{f: bool((got[f].argmax(1) == reference.argmax(1)).all()) for f in got}},
        "cards": {{"onnx": json.loads(metadata["model_card"]), "pt2": json.loads(extra["model_card.json"])}},
        "saved_card": card.state_dict(),
        "accuracy": (reference.argmax(1) == torch.tensor(case["labels"])).float().mean().item(),
    }}
print(json.dumps(results))
"""

# main(argv) of each {id, module, argv, missing}, with the modules named in
# `missing` unimportable, as if not installed: its status and output.
RUN_EACH = r"""
import contextlib, importlib, io, json, sys, time, traceback
results = {}
for run in json.loads(sys.argv[1]):
    module = importlib.import_module(run["module"])
    kept = {name: sys.modules.get(name) for name in run["missing"]}
    sys.modules.update(dict.fromkeys(run["missing"]))  # None: ImportError
    stdout, stderr = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            module.main(run["argv"])
            status = 0
        except SystemExit as exit:
            status = exit.code
        except BaseException:
            traceback.print_exc()
            status = 1
    for name, kept_module in kept.items():
        if kept_module is None:
            del sys.modules[name]
        else:
            sys.modules[name] = kept_module
    results[run["id"]] = {
        "status": status, "stdout": stdout.getvalue(), "stderr": stderr.getvalue(),
        "seconds": time.perf_counter() - start,
    }
print(json.dumps(results))
"""


class Case(NamedTuple):
    model: str
    channels: int
    pretrained: bool
    steps: int  # training steps of 32 digits before it is saved


CASES = {
    "net": Case("net", 1, False, 30),
    "resnet18": Case("resnet18", 1, False, 0),  # gray images, repeated to RGB
    "pretrained": Case("resnet18", 3, True, 0),
}


class Exported(NamedTuple):
    root: Path  # the project
    folders: dict[str, Path]  # case id: the run folder its model.pt is in
    moved: dict[str, Path]  # case id: the folder its exported files were moved to
    images: dict[str, Path]  # case id: the folder of digits it is compared on
    compared: dict[str, dict]  # EXPORT_AND_COMPARE's results
    variables: dict[str, str]  # the environment of the runs


def published_file() -> str:
    """The file name torchvision's weights API keeps resnet18's weights under."""
    import torchvision

    weights = torchvision.models.get_model_weights("resnet18").DEFAULT
    return os.path.basename(urlparse(weights.url).path)


def write_digits(folder: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """folder/<digit>/NNNN.png for each image."""
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / str(label) / f"{index:04d}.png")


def run_each(roots: list[Path], runs: list[dict], **variables) -> dict:
    """{id: {status, stdout, stderr}} of RUN_EACH's runs, in one process that
    imports the packages of `roots`."""
    result = run_python(
        ["-c", RUN_EACH, json.dumps(runs)],
        cwd=roots[0],
        PYTHONPATH=os.pathsep.join(map(str, roots)),
        **variables,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def run(id: str, package: str, program: str, *argv, missing=()) -> dict:
    """A run of RUN_EACH: `python -m package.program *argv`."""
    argv = [str(arg) for arg in argv]
    return {
        "id": id,
        "module": f"{package}.{program}",
        "argv": argv,
        "missing": missing,
    }


def predict_argv(checkpoint: Path, images: Path) -> list:
    return ["--checkpoint", checkpoint, images, "--device", "cpu"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Exported:
    """Each case's model.pt, exported and compared; then its exported files moved
    to a folder of their own."""
    base = tmp_path_factory.mktemp("export")
    root = create(Options(name=PACKAGE), base)
    splits = sample_split()
    train_images, train_labels = splits["train"]
    np.savez(base / "train.npz", images=train_images[:2048], labels=train_labels[:2048])
    test_images, test_labels = splits["test"]

    import torchvision

    torch_home = base / "torch-home"
    checkpoints = torch_home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.manual_seed(1)
    torch.save(
        torchvision.models.resnet18().state_dict(), checkpoints / published_file()
    )
    variables = {"TORCH_HOME": str(torch_home), **NO_NETWORK}

    folders, moved, images, cases = {}, {}, {}, []
    for id, case in CASES.items():
        count = IMAGES[id]
        images[id] = base / f"digits-{count}"
        if not images[id].exists():
            write_digits(images[id], test_images[:count], test_labels[:count])
            # And one wider than high, as photos are: resized, then cropped.
            wide = images[id] / str(test_labels[count]) / "wide.png"
            wide.parent.mkdir(exist_ok=True)
            Image.fromarray(np.pad(test_images[count], ((0, 0), (5, 9)))).save(wide)
        # The digit of each file, in the sorted order predict reads them in.
        labels = [int(path.parent.name) for path in sorted(images[id].rglob("*.png"))]
        folders[id] = base / "runs" / id
        folders[id].mkdir(parents=True)
        cases.append(
            {
                **case._asdict(),
                "id": id,
                "folder": str(folders[id]),
                "images": str(images[id]),
                "labels": labels,
            }
        )
    config = {"train": str(base / "train.npz"), "cases": cases}
    result = run_python(
        ["-c", EXPORT_AND_COMPARE.format(package=PACKAGE), json.dumps(config)],
        cwd=root,
        **variables,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    compared = json.loads(result.stdout.splitlines()[-1])

    # The exported files alone, in a folder of their own: no model.pt beside them.
    for id, folder in folders.items():
        moved[id] = base / "elsewhere" / id
        moved[id].mkdir(parents=True)
        for file_format in FORMATS:
            shutil.move(folder / f"model.{file_format}", moved[id])
    return Exported(root, folders, moved, images, compared, variables)


# A user's edit of Net.forward: dropout even in eval mode, whose random mask the
# exported file draws from another generator than PyTorch does.
NOISE = "        x = nn.functional.dropout(x, 0.5, training=True)\n"
NOISY = "noisytrainer"  # the package of a project whose Net adds NOISE


def noisy_project(parent: Path) -> Path:
    root = create(Options(name=NOISY), parent)
    net = root / NOISY / "model" / "net.py"
    lines = net.read_text().splitlines(keepends=True)
    forward = lines.index("    def forward(self, x):\n")
    net.write_text("".join([*lines[: forward + 1], NOISE, *lines[forward + 1 :]]))
    return root


def bad_files(folder: Path, good: Path) -> dict[str, Path]:
    """Files that are no export of this project's, each named as one would be."""
    import onnx
    from onnx import TensorProto, helper

    files = {}
    files["garbage.onnx"] = folder / "garbage.onnx"
    files["garbage.onnx"].write_text("not a model\n")
    files["garbage.pt2"] = folder / "garbage.pt2"
    files["garbage.pt2"].write_text("not a model\n")
    # Another tool's ONNX model: valid, but with no card.
    graph = helper.make_graph(
        [helper.make_node("Identity", ["images"], ["probabilities"])],
        "identity",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [None, 10])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 10])],
    )
    files["other.onnx"] = folder / "other.onnx"
    onnx.save(helper.make_model(graph), files["other.onnx"])
    # Another program's torch.export file: no card among its extra files.
    program = torch.export.export(torch.nn.Softmax(dim=1), (torch.zeros(2, 10),))
    files["other.pt2"] = folder / "other.pt2"
    torch.export.save(program, files["other.pt2"])
    # A good export whose weights file did not travel with it.
    files["split.onnx"] = folder / "split.onnx"
    onnx.save(
        onnx.load(good),
        files["split.onnx"],
        save_as_external_data=True,
        location="split.onnx.data",
        size_threshold=0,
    )
    os.remove(folder / "split.onnx.data")
    return files


class Runs(NamedTuple):
    bad: Path  # the folder of the bad inputs
    refused: Path  # the folder of the noisy model.pt, which export refuses
    results: dict[str, dict]  # id: {status, stdout, stderr}


@pytest.fixture(scope="module")
def runs(exported, tmp_path_factory) -> Runs:
    """In one process: predict through each case's model.pt and moved exports;
    each bad input; and export of the noisy project's model, which it refuses."""
    steps = []
    for id in CASES:
        for checkpoint in (
            exported.folders[id] / "model.pt",
            exported.moved[id] / "model.onnx",
            exported.moved[id] / "model.pt2",
        ):
            argv = predict_argv(checkpoint, exported.images[id])
            steps.append(
                run(f"{id}-{checkpoint.suffix[1:]}", PACKAGE, "predict", *argv)
            )

    bad = tmp_path_factory.mktemp("bad")
    files = bad_files(bad, exported.moved["net"] / "model.onnx")
    images = exported.images["pretrained"]
    steps += [
        run(name, PACKAGE, "predict", *predict_argv(path, images))
        for name, path in files.items()
    ]
    model_pt = exported.folders["net"] / "model.pt"
    onnx_to_pt2 = ["--format", "onnx", "--output", bad / "model.pt2"]
    steps += [
        run(
            "export-wrong-suffix",
            PACKAGE,
            "export",
            "--checkpoint",
            model_pt,
            *onnx_to_pt2,
        ),
        run(
            "export-no-model",
            PACKAGE,
            "export",
            "--checkpoint",
            files["garbage.onnx"],
            "--format",
            "pt2",
        ),
        run(
            "export-without-onnxscript",
            PACKAGE,
            "export",
            *("--checkpoint", model_pt, "--format", "onnx"),
            *("--output", bad / "never.onnx"),
            missing=["onnxscript"],
        ),
        run(
            "predict-without-onnxruntime",
            PACKAGE,
            "predict",
            *predict_argv(exported.moved["net"] / "model.onnx", images),
            missing=["onnxruntime"],
        ),
    ]

    noisy = noisy_project(tmp_path_factory.mktemp("noisy"))
    refused = tmp_path_factory.mktemp("refused")
    shutil.copy(model_pt, refused)
    steps += [
        run(
            f"refused-{f}",
            NOISY,
            "export",
            "--checkpoint",
            refused / "model.pt",
            "--format",
            f,
        )
        for f in FORMATS
    ]
    results = run_each([exported.root, noisy], steps, **exported.variables)
    print(
        "\nseconds of each run:",
        {id: round(r["seconds"], 1) for id, r in results.items()},
    )
    return Runs(bad, refused, results)


@pytest.mark.parametrize("case", CASES)
def test_export_writes_both_files_and_names_them(exported, case):
    printed = exported.compared[case]["printed"]
    for file_format in FORMATS:
        written = exported.folders[case] / f"model.{file_format}"
        assert printed[file_format] == f"{file_format}: {written}\n"
        assert (exported.moved[case] / written.name).is_file()
    # Small models keep their weights inside the ONNX file: nothing else to carry.
    assert sorted(path.name for path in exported.moved[case].iterdir()) == [
        "model.onnx",
        "model.pt2",
    ]


@pytest.mark.parametrize("case", CASES)
def test_exported_files_give_model_pt_probabilities_on_real_digits(exported, case):
    compared = exported.compared[case]
    print(
        f"\n{case}: {compared['images']} digits, max difference", compared["difference"]
    )
    assert compared["images"] == IMAGES[case] + 1  # and the wide one
    for file_format in FORMATS:
        assert compared["difference"][file_format] <= TOLERANCE
        assert compared["same_classes"][file_format], file_format
    if CASES[case].steps:  # trained enough for its answers to mean something
        assert compared["accuracy"] >= 0.5


@pytest.mark.parametrize("case", CASES)
def test_each_file_carries_the_card_predict_needs(exported, case):
    compared = exported.compared[case]
    for file_format in FORMATS:
        card = compared["cards"][file_format]
        saved = compared["saved_card"]
        assert {key: card[key] for key in saved} == saved
        preprocessing = saved["preprocessing"]
        size, channels = preprocessing["image_size"], preprocessing["channels"]
        assert card["input"].startswith(f"uint8 images (N, {channels}, {size}, {size})")
    if CASES[case].pretrained:  # the published weights' preprocessing
        assert (preprocessing["image_size"], preprocessing["resize_size"]) == (224, 256)
        assert preprocessing["mean"] == pytest.approx([0.485, 0.456, 0.406])


def parse_lines(stdout: str) -> list[tuple[str, str, float]]:
    rows = [line.split("\t") for line in stdout.splitlines()]
    return [(Path(path).name, label, float(p)) for path, label, p in rows]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("file_format", FORMATS)
def test_predict_through_a_moved_export_prints_model_pt_lines(runs, case, file_format):
    through_pt = runs.results[f"{case}-pt"]
    through_file = runs.results[f"{case}-{file_format}"]
    for run in (through_pt, through_file):
        assert run["status"] == 0, run["stderr"][-3000:]
        assert run["stderr"] == ""
    want, got = parse_lines(through_pt["stdout"]), parse_lines(through_file["stdout"])
    assert len(want) == IMAGES[case] + 1
    assert [row[:2] for row in got] == [row[:2] for row in want]
    # Printed to 4 decimals: a rounding step is the most two close values can differ.
    assert max(abs(a[2] - b[2]) for a, b in zip(got, want, strict=True)) <= 1.5e-4
    assert [int(row[1]) for row in want] != [0] * len(want)


def readme_example(root: Path) -> str:
    readme = (root / "README.md").read_text()
    section = readme.split("## Use the model elsewhere", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


@pytest.mark.parametrize("case", ["net", "pretrained"])
def test_the_readme_example_classifies_with_onnxruntime_alone(
    exported, runs, tmp_path, case
):
    """The README's script, in a folder without the project, on held-out digits
    (the wide one among them): predict's classes and probabilities."""
    script = readme_example(exported.root)
    assert "import " + PACKAGE not in script and "from " + PACKAGE not in script
    assert len(script.strip().splitlines()) <= 15
    model = shutil.copy(exported.moved[case] / "model.onnx", tmp_path)
    (tmp_path / "classify.py").write_text(script)
    predicted = {
        name: (label, probability)
        for name, label, probability in parse_lines(
            runs.results[f"{case}-onnx"]["stdout"]
        )
    }
    paths = sorted(exported.images[case].rglob("*.png"))
    for path in [*paths[:2], *(p for p in paths if p.name == "wide.png")]:
        result = run_python(
            ["classify.py", str(model), str(path)], cwd=tmp_path, PYTHONPATH=""
        )
        assert result.returncode == 0, result.stderr[-2000:]
        label, probability = result.stdout.split()
        assert label == predicted[path.name][0], path
        assert float(probability) == pytest.approx(predicted[path.name][1], abs=1e-4)


# ---------------------------------------------------------------- bad inputs

INSTALL = "pip install -e '.[export]' in this project"
NO_CARD = "holds no model card; was it written by export?"
BAD = {
    "garbage.onnx": (1, "{bad}/garbage.onnx: onnxruntime cannot load it ("),
    "garbage.pt2": (1, "{bad}/garbage.pt2: not a torch.export file"),
    "other.onnx": (1, "{bad}/other.onnx: " + NO_CARD),
    "other.pt2": (1, "{bad}/other.pt2: " + NO_CARD),
    "split.onnx": (
        1,
        "{bad}/split.onnx: its weights file split.onnx.data is missing; it must "
        + "sit beside it",
    ),
    "export-wrong-suffix": (
        2,
        "argument --output: expected a .onnx file, got {bad}/model.pt2",
    ),
    "export-no-model": (
        1,
        "{bad}/garbage.onnx: not a model.pt, last.pt or checkpoint that train wrote",
    ),
    "export-without-onnxscript": (1, f"onnxscript is not installed: {INSTALL}"),
    "predict-without-onnxruntime": (1, f"onnxruntime is not installed: {INSTALL}"),
}


def error_line(result: dict, status: int) -> str:
    assert result["status"] == status, result["stderr"]
    assert "Traceback" not in result["stderr"], result["stderr"]
    first, *rest = result["stderr"].strip().splitlines()
    assert rest == ([HELP_HINT] if status == 2 else []), result["stderr"]
    assert result["stdout"] == ""
    return first


@pytest.mark.parametrize("id", BAD)
def test_a_bad_input_is_one_error_line(runs, id):
    status, start = BAD[id]
    line = error_line(runs.results[id], status)
    assert line.startswith("error: " + start.format(bad=runs.bad)), line


def test_a_failed_export_leaves_no_file(runs):
    assert (
        sorted(path.name for path in runs.bad.iterdir() if "model" in path.name) == []
    )
    assert not (runs.bad / "never.onnx").exists()


@pytest.mark.parametrize("file_format", FORMATS)
def test_an_export_that_differs_from_pytorch_is_refused_and_removed(runs, file_format):
    line = error_line(runs.results[f"refused-{file_format}"], 1)
    written = runs.refused / f"model.{file_format}"
    assert re.fullmatch(
        rf"error: {re.escape(str(written))}: its probabilities differ from "
        r"PyTorch's by [0-9.e+-]+ \(more than 0.0001\); file removed",
        line,
    ), line
    assert sorted(path.name for path in runs.refused.iterdir()) == ["model.pt"]
