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
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scaffold.render
from scaffold.options import Options
from scaffold.project import create
from scaffold.render import output_path, render, template_paths, templates_dir
from scaffold.update import LABELS, apply, merge, plan_file, plan_update

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
README, MODEL = "README.md", f"{PACKAGE}/model/net.py"


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
    readme_template = template_for(folder, README)
    readme_template.write_text(
        readme_template.read_text() + "".join(f"{x}\n" for x in readme)
    )
    model_template = template_for(folder, MODEL)
    model_template.write_text(
        "".join(f"# {x}\n" for x in model) + model_template.read_text()
    )
    return folder


def template_for(templates: Path, path: str) -> Path:
    """The template file that renders `path`."""
    for template in template_paths(templates):
        if output_path(template.as_posix(), PACKAGE) == path:
            return templates / template
    raise AssertionError(f"no template renders {path}")


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


# Byte for byte: the edits people make with real editors. Lines here are short
# random texts over an alphabet with spaces, tabs and non-ASCII letters, drawn
# from a small pool so that duplicated and empty lines are common. The user
# re-indents, adds or strips trailing whitespace, saves with CRLF, drops the
# final newline or rewrites every line; the property holds byte for byte:
# - every line the user wrote is in the result, outside the `last generated`
#   part of a conflict block, as many times as the user wrote it;
# - a file the user did not edit becomes the new render (in the user's line
#   endings), and a file the templates did not change stays the user's.

CHARACTERS = "ab x\t(:)é中😀"  # no <, |, = or >: a line never looks like a marker
STARTS = (START.encode(), BASE.encode(), SPLIT.encode(), END.encode())


def line_text(max_size: int = 6) -> st.SearchStrategy[str]:
    return st.text(alphabet=st.sampled_from(CHARACTERS), max_size=max_size)


def respaced(draw, line: str) -> str:
    """The line with only its whitespace changed, as an editor or a user would."""
    kind = draw(st.sampled_from(["indent", "dedent", "tab", "trailing", "strip", "cr"]))
    if kind == "indent":
        changed = "    " + line
    elif kind == "dedent":
        changed = line.removeprefix(" ") if line.startswith(" ") else line[1:]
    elif kind == "tab":
        changed = "\t" + line.lstrip(" ")
    elif kind == "trailing":
        changed = line + draw(st.sampled_from([" ", "  ", "\t"]))
    elif kind == "strip":
        changed = line.rstrip()
    else:  # one line saved with a Windows line ending
        changed = line + "\r"
    return changed if changed != line else line + " "


@st.composite
def edited(draw, base: list[str], pool: list[str], user: bool) -> list[str]:
    """base with random line edits; the user's include whitespace-only ones."""
    if user and base and draw(st.integers(0, 9)) == 0:  # every line rewritten
        return [f"rewritten {n} {line}" for n, line in enumerate(base)]
    actions = ["keep"] * 4 + ["delete", "replace", "duplicate"]
    actions += ["respace", "respace"] if user else []
    new_line = st.one_of(st.sampled_from(pool), line_text())
    lines = []
    for line in [*base, None]:
        lines.extend(
            draw(st.lists(new_line, max_size=2)) if draw(st.booleans()) else []
        )
        if line is None:
            break
        action = draw(st.sampled_from(actions))
        if action == "keep":
            lines.append(line)
        elif action == "replace":
            lines.append(draw(new_line))
        elif action == "duplicate":
            lines.extend([line, line])
        elif action == "respace":
            lines.append(respaced(draw, line))
    return lines


def join(lines: list[str], final_newline: bool = True, crlf: bool = False) -> bytes:
    text = "\n".join(lines) + ("\n" if final_newline and lines else "")
    return (text.replace("\n", "\r\n") if crlf else text).encode()


@st.composite
def three_files(draw) -> tuple[bytes, bytes, bytes]:
    """base, ours, theirs: the last render, the user's file, the new render."""
    pool = draw(st.lists(line_text(), min_size=1, max_size=4))
    base = draw(st.lists(st.sampled_from(pool), max_size=10))
    ours = draw(edited(base, pool, user=True))
    theirs = draw(edited(base, pool, user=False))
    user_newline, crlf = draw(st.booleans()), draw(st.integers(0, 3)) == 0
    return join(base), join(ours, user_newline, crlf), join(theirs)


def is_crlf(data: bytes) -> bool:
    return b"\r\n" in data and data.count(b"\r\n") == data.count(b"\n")


def split_lines(data: bytes) -> list[bytes]:
    """The file's lines without their endings: CRLF for a CRLF file, else LF."""
    ending = b"\r\n" if is_crlf(data) else b"\n"
    lines = data.split(ending)
    return lines[:-1] if lines[-1] == b"" else lines


def kept_lines(result: bytes) -> list[bytes]:
    """The result's lines, without conflict markers and without the part of each
    conflict block that shows the last render."""
    lines, in_base = [], False
    for line in split_lines(result):
        if line.startswith(STARTS):
            in_base = line == STARTS[1]
        elif not in_base:
            lines.append(line)
    return lines


def update_file(tmp: Path, base: bytes, ours: bytes, theirs: bytes) -> bytes:
    """What update leaves in a file: plan_file's result for it."""
    (tmp / "file.py").write_bytes(ours)
    change = plan_file(tmp, "file.py", base, theirs)
    if change is None:
        return ours
    assert change.action in ("updated", "merged", "conflicted"), change.action
    return change.after


def check_bytes(base: bytes, ours: bytes, theirs: bytes, result: bytes) -> None:
    written = Counter(split_lines(ours)) - Counter(split_lines(base))
    missing = written - Counter(kept_lines(result))
    assert not missing, f"user lines lost: {sorted(missing)}"
    if (ours.replace(b"\r\n", b"\n") if is_crlf(ours) else ours) == base:
        expected = theirs.replace(b"\n", b"\r\n") if is_crlf(ours) else theirs
        assert result == expected, "an unedited file must become the new render"
    if theirs == base:
        assert result == ours, "a file the templates did not change must stay as is"
    if is_crlf(ours):
        assert is_crlf(result) or result == b"", "a CRLF file must stay CRLF"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bytes")


@settings(max_examples=300, deadline=None)
@given(three_files())
def test_every_byte_the_user_wrote_survives_the_update(scratch, files):
    base, ours, theirs = files
    check_bytes(base, ours, theirs, update_file(scratch, base, ours, theirs))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_an_edit_next_to_a_template_change_is_kept(scratch, data):
    """The user edits the line just before or after the one the template changes."""
    base = data.draw(st.lists(line_text(), min_size=2, max_size=8))
    n = data.draw(st.integers(0, len(base) - 2))
    mine, theirs_at = (n, n + 1) if data.draw(st.booleans()) else (n + 1, n)
    ours, theirs = list(base), list(base)
    ours[mine] = data.draw(
        st.one_of(st.builds(lambda: respaced(data.draw, base[mine])), line_text())
    )
    theirs[theirs_at] = f"template {theirs[theirs_at]}"
    final_newline = data.draw(st.booleans())
    files = join(base), join(ours, final_newline), join(theirs)
    result = update_file(scratch, *files)
    check_bytes(*files, result)
    edited_line = ours[mine].encode()
    if ours[mine] != base[mine] and edited_line in split_lines(files[1]):
        assert edited_line in kept_lines(result)  # not the "" a missing newline drops


@pytest.mark.parametrize(
    "ours, theirs",
    [
        # The user appends a line and leaves it without a final newline.
        (b"a\nb\nmine", b"new\na\nb\n"),
        (b"a\nb\nmine", b"a\nb\nnew\n"),
        # Only the final newline goes.
        (b"a\nb", b"new\na\nb\n"),
        # Whitespace-only edits: indentation, trailing spaces, a tab.
        (b"    a\nb\n", b"a\nb\nnew\n"),
        (b"a  \nb\n", b"a\nb\nnew\n"),
        (b"\ta\nb\n", b"a\nb\nnew\n"),
        # CRLF, with and without a final newline; non-ASCII text.
        (b"a\r\nb\r\nmine \xc3\xa9\r\n", b"new\na\nb\n"),
        (b"a\r\nb\r\nmine", b"new\na\nb\n"),
    ],
    ids=[
        "no-final-newline",
        "no-final-newline-conflict",
        "only-newline-removed",
        "indented",
        "trailing-spaces",
        "tab",
        "crlf-non-ascii",
        "crlf-no-final-newline",
    ],
)
def test_known_edits_survive_byte_for_byte(scratch, ours, theirs):
    base = b"a\nb\n"
    result = update_file(scratch, base, ours, theirs)
    check_bytes(base, ours, theirs, result)
