"""Properties of the three-way merge: random user edits against random template edits.

Lines are unique tokens, so each line tells where it came from: `base-line-N`
from the last render, `user-line-N` added by the user, `template-line-N` added
by the new templates. Whatever the edits, after the merge
- every line the user added or kept is present (merged or inside a conflict
  block), in the user's order, unless the templates removed it;
- every template change outside conflict blocks is present, in order;
- nothing else changed: no line is invented, duplicated or resurrected.
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scaffold.render
from scaffold.options import Options
from scaffold.project import create
from scaffold.render import render, templates_dir
from scaffold.update import LABELS, apply, merge, plan_update

PACKAGE = "mytrainer"
START, BASE, SPLIT, END = (
    f"<<<<<<< {LABELS[0]}",
    f"||||||| {LABELS[1]}",
    "=======",
    f">>>>>>> {LABELS[2]}",
)


@dataclass
class Block:
    ours: list[str]
    base: list[str]
    theirs: list[str]


def parse(lines: list[str]) -> list[str | Block]:
    """Clean lines and conflict blocks, in file order."""
    parsed: list[str | Block] = []
    part = None
    for line in lines:
        if line == START:
            parsed.append(Block([], [], []))
            part = parsed[-1].ours
        elif line == BASE and part is not None:
            part = parsed[-1].base
        elif line == SPLIT and part is not None:
            part = parsed[-1].theirs
        elif line == END and part is not None:
            part = None
        elif part is not None:
            part.append(line)
        else:
            parsed.append(line)
    assert part is None, "a conflict block is not closed"
    return parsed


def resolve(parsed: list[str | Block], side: str) -> list[str]:
    """The file with every conflict resolved by taking one side."""
    lines = []
    for item in parsed:
        lines.extend(getattr(item, side) if isinstance(item, Block) else [item])
    return lines


def is_slice(part: list[str], lines: list[str]) -> bool:
    return any(
        lines[i : i + len(part)] == part for i in range(len(lines) - len(part) + 1)
    )


def in_same_order(view: list[str], side: list[str]) -> bool:
    shared = set(view) & set(side)
    return [x for x in view if x in shared] == [x for x in side if x in shared]


def check_merge(
    base: list[str], ours: list[str], theirs: list[str], result: list[str]
) -> int:
    """Assert the properties of a merge result; returns its number of conflict blocks."""
    parsed = parse(result)
    blocks = [item for item in parsed if isinstance(item, Block)]
    clean = {item for item in parsed if isinstance(item, str)}
    user_added, template_added = set(ours) - set(base), set(theirs) - set(base)
    user_dropped, template_dropped = set(base) - set(ours), set(base) - set(theirs)
    # Take the user's side of every conflict: the user's file with only the
    # template's clean changes applied.
    as_user = resolve(parsed, "ours")
    assert set(ours) - set(as_user) <= template_dropped
    assert set(as_user) - set(ours) <= template_added
    assert in_same_order(as_user, ours)
    # Take the template's side: the new render with only the user's clean changes.
    as_template = resolve(parsed, "theirs")
    assert set(theirs) - set(as_template) <= user_dropped
    assert set(as_template) - set(theirs) <= user_added
    assert in_same_order(as_template, theirs)
    # A deletion outside conflicts is applied; nothing is duplicated or invented.
    assert not clean & (user_dropped | template_dropped)
    assert len(as_user) == len(set(as_user)) and len(as_template) == len(
        set(as_template)
    )
    for block in blocks:
        assert is_slice(block.ours, ours) and is_slice(block.theirs, theirs)
        assert is_slice(block.base, base)
    return len(blocks)


@st.composite
def edit(draw, lines: list[str], author: str) -> list[str]:
    """lines with random edits: each line kept, deleted or replaced; new lines inserted."""
    fresh = (f"{author}-line-{n}" for n in itertools.count())
    edited = []
    for line in [*lines, None]:
        edited.extend(
            next(fresh) for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2])))
        )
        if line is None:
            break
        action = draw(st.sampled_from(["keep", "keep", "keep", "delete", "replace"]))
        if action == "keep":
            edited.append(line)
        elif action == "replace":
            edited.append(next(fresh))
    return edited


@st.composite
def three_versions(draw, max_lines: int = 12) -> tuple[list[str], list[str], list[str]]:
    base = [f"base-line-{n}" for n in range(draw(st.integers(0, max_lines)))]
    return base, draw(edit(base, "user")), draw(edit(base, "template"))


def text(lines: list[str]) -> bytes:
    return "".join(line + "\n" for line in lines).encode()


@settings(max_examples=200, deadline=None)
@given(three_versions())
def test_merge_keeps_every_user_line_and_every_clean_template_change(versions):
    base, ours, theirs = versions
    merged, conflicts = merge(text(ours), text(base), text(theirs))
    assert check_merge(base, ours, theirs, merged.decode().splitlines()) == conflicts
    if ours == base:
        assert (merged, conflicts) == (text(theirs), 0)
    if theirs == base or theirs == ours:
        assert (merged, conflicts) == (text(ours), 0)


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_identical_edits_on_both_sides_are_not_conflicts(data):
    base = [f"base-line-{n}" for n in range(data.draw(st.integers(0, 12)))]
    both = data.draw(edit(base, "shared"))
    assert merge(text(both), text(base), text(both)) == (text(both), 0)


# End to end: the same properties through create, plan_update and apply, on a
# copy of the real templates whose README and model gain random lines.
README, MODEL = "README.md", f"{PACKAGE}/model.py"


@pytest.fixture(scope="module", autouse=True)
def black_once():
    """Black is pure: format each text once, so rendering many trees stays fast."""
    with pytest.MonkeyPatch.context() as patch:
        cached = functools.lru_cache(maxsize=None)(scaffold.render.format_python)
        patch.setattr(scaffold.render, "format_python", cached)
        yield


def real_lines(path: str) -> list[str]:
    return render(Options(PACKAGE))[path].splitlines()


def templates_with(folder: Path, readme: list[str], model: list[str]) -> Path:
    """A copy of the real templates with lines added at the end of the README
    and, as comments, at the top of the model."""
    shutil.copytree(
        templates_dir(), folder, ignore=shutil.ignore_patterns("__pycache__")
    )
    readme_template = folder / "README.md.jinja"
    readme_template.write_text(
        readme_template.read_text() + "".join(f"{x}\n" for x in readme)
    )
    model_template = folder / "{{ package }}" / "model.py.jinja"
    model_template.write_text(
        "".join(f"# {x}\n" for x in model) + model_template.read_text()
    )
    return folder


def comments(lines: list[str]) -> list[str]:
    return [f"# {line}" for line in lines]


@settings(max_examples=12, deadline=None)
@given(three_versions(6), three_versions(6), st.booleans())
def test_update_keeps_every_user_line_end_to_end(readme, model, crlf):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        old = templates_with(tmp / "old", readme[0], model[0])
        new = templates_with(tmp / "new", readme[2], model[2])
        root = create(Options(PACKAGE), tmp, templates=old)
        real_readme, real_model = real_lines(README), real_lines(MODEL)
        user_readme = "\n".join([*real_readme, *readme[1]]) + "\n"
        (root / README).write_bytes(
            user_readme.replace("\n", "\r\n" if crlf else "\n").encode()
        )
        (root / MODEL).write_text("\n".join([*comments(model[1]), *real_model]) + "\n")
        untouched = {
            path: (root / path).read_bytes()
            for path in render(Options(PACKAGE))
            if path not in (README, MODEL)
        }

        plan = plan_update(root, templates=new)
        apply(plan)

        readme_bytes = (root / README).read_bytes()
        if crlf:
            assert readme_bytes.count(b"\r\n") == readme_bytes.count(b"\n")
        lines = readme_bytes.decode().splitlines()
        assert lines[: len(real_readme)] == real_readme
        readme_conflicts = check_merge(*readme, lines[len(real_readme) :])
        lines = (root / MODEL).read_text().splitlines()
        assert lines[len(lines) - len(real_model) :] == real_model
        head = lines[: len(lines) - len(real_model)]
        model_conflicts = check_merge(*map(comments, model), head)
        counts = {README: readme_conflicts, MODEL: model_conflicts}
        assert plan.conflicts == sorted(path for path, n in counts.items() if n)
        assert {path: (root / path).read_bytes() for path in untouched} == untouched
        assert os.listdir(root / ".scaffold") == ["base"]
