"""`scaffold ui` in a real browser: Debian's headless Chromium driven by selenium.

The page loads, follows a metric and a feature (the tree gains and loses files, the
code changes) and a task (its own data kinds and metrics replace the choices),
creates a project whose own tests pass, and on an edited project
previews and applies an update that keeps the edit. A screenshot of each state is
kept in test-artifacts/ui/ (open them: the page must look clean).

Without Chromium the tests skip, except under CI (the CI variable set): there they
fail, since scripts/install.sh --tests installs it. Nothing is downloaded: the driver is
Debian's chromedriver, so selenium-manager never runs.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scaffold.cli import app
from scaffold.project import read_record
from scaffold.registry import DATA_KINDS, DEFAULT_TASK, METRICS, TASKS

from .conftest import run_python

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts" / "ui"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1440,900",
)
WAIT_S = 30

runner = CliRunner()


def unavailable(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"no browser under CI: {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator:
    # Checked first: given a driver path that does not exist, selenium would ask
    # selenium-manager, which downloads one.
    missing = [
        path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)
    ]
    if missing:
        unavailable(
            f"{' and '.join(missing)} missing; bash scripts/install.sh --tests installs "
            "Debian's chromium and chromium-driver"
        )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        profile = tmp_path_factory.mktemp("chromium-profile")
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(
            service=Service(executable_path=CHROMEDRIVER), options=options
        )
    except Exception as error:  # noqa: BLE001 (any failure means: no browser here)
        unavailable(f"cannot start headless Chromium ({CHROMIUM}): {error}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


class Page:
    """The page in the browser, in the words of what a user sees."""

    def __init__(self, driver, url: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver, self.by = driver, By
        self.wait = WebDriverWait(driver, WAIT_S)
        driver.get(url)
        self.wait.until(lambda _: self.files())

    def find(self, css: str):
        return self.driver.find_element(self.by.CSS_SELECTOR, css)

    # Read in one script: the page rebuilds the tree and code pane on each answer,
    # which would leave an element found a moment before stale.
    def files(self) -> list[str]:
        return self.driver.execute_script(
            "return [...document.querySelectorAll('#tree .file')]"
            ".map((button) => button.dataset.path)"
        )

    def text(self, css: str) -> str:
        return self.driver.execute_script(
            "const node = document.querySelector(arguments[0]);"
            "return node ? node.innerText : '';",
            css,
        )

    def attribute(self, css: str, name: str) -> str | None:
        return self.driver.execute_script(
            "return document.querySelector(arguments[0]).getAttribute(arguments[1]);",
            css,
            name,
        )

    def code(self) -> str:
        return self.text("#code")

    def choices(self, name: str) -> dict[str, bool]:
        """{value: checked} of the radio buttons or checkboxes called `name`."""
        return dict(
            self.driver.execute_script(
                "return [...document.querySelectorAll(`input[name='${arguments[0]}']`)]"
                ".map((input) => [input.value, input.checked])",
                name,
            )
        )

    def api_calls(self) -> list[str]:
        return self.driver.execute_script(
            "return performance.getEntriesByType('resource')"
            ".map((entry) => entry.name).filter((name) => name.includes('/api/'))"
        )

    def toggle(self, input_id: str) -> None:
        self.find(f"label[for='{input_id}']").click()

    def open_file(self, path: str) -> None:
        self.find(f"#tree .file[data-path='{path}']").click()
        self.wait.until(lambda _: self.text("#viewer-title") == path)

    def until(self, condition, message: str = ""):
        return self.wait.until(lambda _: condition(), message)

    def shot(self, name: str) -> None:
        self.driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_preview_follows_the_options_and_create_writes_a_working_project(
    browser, serve, tmp_path
):
    server = serve()
    page = Page(browser, server.url)
    assert "mytrainer/train.py" in page.files()
    assert page.text("#viewer-title") == "mytrainer/train.py"
    assert "def train(" in page.code()
    # The first paint came with the page: no call to the API was needed for it.
    assert page.api_calls() == []
    page.shot("1-new-defaults")

    page.open_file("mytrainer/metrics/__init__.py")
    assert "TopKAccuracy" not in page.code()
    page.toggle("metrics-topk")
    page.until(lambda: "mytrainer/metrics/topk.py" in page.files(), "topk.py added")
    page.until(lambda: "TopKAccuracy" in page.code(), "the code shown changes")
    page.toggle("metrics-nll")
    page.until(lambda: "mytrainer/metrics/loss.py" not in page.files(), "loss.py gone")
    page.toggle("feature-checkpoint")
    checkpoint = "mytrainer/handlers/checkpoint.py"
    page.until(lambda: checkpoint in page.files(), "checkpoint.py added")
    marked = f"#tree .file[data-path='{checkpoint}']"
    assert "added" in page.attribute(marked, "class")
    page.open_file(checkpoint)
    page.shot("2-new-toggled")

    name = page.find("#name")
    name.clear()
    name.send_keys("web-trainer")
    page.until(lambda: "web-trainer" in page.text("#name-problem"), "name error")
    assert "not a valid Python package name" in page.text("#name-problem")
    assert page.attribute("#create", "disabled") is not None
    page.shot("3-bad-name")
    name.send_keys("\b" * len("web-trainer") + "webtrainer")
    page.until(lambda: "webtrainer/train.py" in page.files(), "renamed")
    page.until(lambda: page.attribute("#create", "disabled") is None)

    page.find("#create").click()
    page.until(lambda: "created" in page.text("#result"), "created")
    assert "python -m webtrainer.train --data-dir data" in page.text("#result")
    page.shot("4-created")

    root = tmp_path / "out" / "webtrainer"
    result = runner.invoke(
        app,
        ["new", "webtrainer", "--metrics", "accuracy,topk", "--checkpoint"]
        + ["--output-dir", str(tmp_path / "cli")],
    )
    assert result.exit_code == 0, result.output
    assert snapshot(root) == snapshot(tmp_path / "cli" / "webtrainer")
    tests = run_python(["-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"], cwd=root)
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert re.search(r"\d+ passed", tests.stdout)


def task_choices(task: str) -> tuple[dict[str, bool], dict[str, bool]]:
    """The data and metrics choices the page should show for a task, its defaults
    checked."""
    spec = TASKS[task]
    data = {k: k == spec.data for k, kind in DATA_KINDS.items() if kind.task == task}
    metrics = {n: n in spec.metrics for n, m in METRICS.items() if task in m.tasks}
    return data, metrics


def test_choosing_a_task_offers_its_data_and_metrics_and_renders_its_files(
    browser, serve, tmp_path
):
    page = Page(browser, serve().url)
    assert page.choices("task") == {name: name == DEFAULT_TASK for name in TASKS}
    shown = (page.choices("data"), page.choices("metrics"))
    assert shown == task_choices(DEFAULT_TASK)

    page.toggle("task-segmentation")
    page.until(lambda: "mytrainer/data/masks.py" in page.files(), "masks.py added")
    assert (page.choices("data"), page.choices("metrics")) == task_choices(
        "segmentation"
    )
    assert "mytrainer/data/mnist.py" not in page.files()
    page.open_file("mytrainer/data/masks.py")
    assert "def get_data(" in page.code()
    page.shot("8-segmentation")

    page.find("#create").click()
    page.until(lambda: "created" in page.text("#result"), "created")
    by_cli = runner.invoke(
        app, ["new", "mytrainer", "--task", "segmentation", "-o", str(tmp_path / "cli")]
    )
    assert by_cli.exit_code == 0, by_cli.output
    created = snapshot(tmp_path / "out" / "mytrainer")
    assert created == snapshot(tmp_path / "cli" / "mytrainer")

    page.toggle(f"task-{DEFAULT_TASK}")
    page.until(lambda: "mytrainer/data/masks.py" not in page.files(), "masks.py gone")
    shown = (page.choices("data"), page.choices("metrics"))
    assert shown == task_choices(DEFAULT_TASK)


def test_update_preview_and_apply_keep_the_users_edit(browser, serve, tmp_path):
    result = runner.invoke(app, ["new", "edited", "-o", str(tmp_path / "projects")])
    assert result.exit_code == 0, result.output
    root = tmp_path / "projects" / "edited"
    with open(root / "edited" / "train.py", "a") as train:
        train.write("# my own note\n")
    twin = tmp_path / "twin"
    shutil.copytree(root, twin)

    server = serve(root)
    page = Page(browser, server.url)
    assert "up to date" in page.text("#plan-summary")  # in the first paint
    assert page.code().endswith("# my own note")
    assert page.text("#viewer-label") == "your file: update leaves it as it is"
    assert page.attribute("#name", "readonly") is not None
    assert page.attribute("#update", "disabled") is not None
    page.shot("5-update-start")

    page.toggle("feature-checkpoint")
    page.until(lambda: "files would change" in page.text("#plan-summary"))
    report = page.text("#report")
    assert "created" in report and "merged" in report
    page.find("#whole-diff").click()
    page.until(lambda: "+++ b/edited/handlers/checkpoint.py" in page.code())
    page.find("#report .file[data-path='edited/train.py']").click()
    page.until(lambda: page.text("#viewer-title") == "diff: edited/train.py")
    page.shot("6-update-preview")
    # The code pane shows the user's file as update leaves it, and its diff.
    page.find("#diff-toggle").click()
    page.until(lambda: page.text("#viewer-title") == "edited/train.py")
    assert page.code().endswith("# my own note")
    assert "Checkpointer(" in page.code()
    assert page.text("#viewer-label").startswith("your file after update")
    page.shot("6b-update-merged-file")
    page.find("#diff-toggle").click()
    page.until(lambda: page.text("#viewer-title") == "diff: edited/train.py")
    assert snapshot(root) == snapshot(twin)  # the preview wrote nothing

    page.find("#update").click()
    page.until(lambda: "updated" in page.text("#result"), "updated")
    page.until(lambda: "up to date" in page.text("#plan-summary"))
    page.shot("7-updated")
    assert (root / "edited" / "train.py").read_text().endswith("# my own note\n")
    assert (root / "edited" / "handlers" / "checkpoint.py").is_file()
    assert read_record(root).options.checkpoint is True
    assert runner.invoke(app, ["update", str(twin), "--checkpoint"]).exit_code == 0
    assert snapshot(root) == snapshot(twin)
