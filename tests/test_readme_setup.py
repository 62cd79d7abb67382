"""The README's set-up stays true: two commands, the second of which is exactly
what CI runs, with installers that take the flags the README gives them."""

from __future__ import annotations

import re
import subprocess

from .conftest import REPO


def setup_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Set-up", 1)[1].split("```bash\n", 1)[1]
    block = section.split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line]


def test_the_setup_is_a_main_job_and_the_test_command():
    main_job, tests = setup_commands()
    assert main_job == "bash scripts/install.sh && bash scripts/demo.sh"
    assert tests.endswith("&& python -m pytest")


def test_ci_runs_exactly_the_readmes_test_command():
    _, tests = setup_commands()
    script = (REPO / ".ci/run").read_text()
    commands = [line for line in script.splitlines() if line and line[0] != "#"]
    assert commands[-1] == tests


def test_the_installer_refuses_a_flag_it_does_not_know():
    result = subprocess.run(
        ["bash", "scripts/install.sh", "--everything"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert re.fullmatch(r"usage: bash scripts/install.sh \[--tests\]\n", result.stderr)
