"""Render: Options -> {relative path: text}. Pure and deterministic; writes nothing.

The template tree mirrors the generated project, `package/` standing for the
package folder. Which files an option set includes is data, the manifest in the
registry; a file with a `.jinja` suffix is rendered, any other is copied as it
is. Every Python file comes out in black's format, so the first render, a later
re-render and a merge all share one format.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import os
import re
import tokenize
from functools import lru_cache
from pathlib import Path, PurePosixPath

import jinja2

from scaffold import __version__
from scaffold.options import Options
from scaffold.registry import (
    CORE_FILES,
    CORE_FLAG_TYPES,
    CORE_HANDLERS,
    CORE_METRICS,
    DATA_KINDS,
    FEATURES,
    METRICS,
    RENAMED,
    TASKS,
)

TEMPLATE_SUFFIX = ".jinja"
LINE_LENGTH = 88  # black's default, the format of every generated Python file


def templates_dir() -> Path:
    here = Path(__file__).resolve().parent
    installed = here / "templates"  # inside a wheel
    return installed if installed.is_dir() else here.parent / "templates"


@lru_cache(maxsize=4)
def _environment(root: Path) -> jinja2.Environment:
    cache = _cache_dir()
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(root),
        # Compiling the templates costs more than rendering them: keep the bytecode.
        bytecode_cache=(
            jinja2.FileSystemBytecodeCache(str(cache / "jinja")) if cache else None
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["import_from"] = import_from
    env.filters["import_lines"] = import_lines
    env.filters["all_list"] = all_list
    return env


def import_from(names, module: str) -> str:
    """`from module import names` laid out as black and isort would: the names in
    isort's order, on one line when it fits, else one per line (the trailing comma
    keeps black from joining them)."""
    names = sorted(set(names), key=isort_key)  # two metrics may share a class
    line = f"from {module} import {', '.join(names)}"
    if len(line) <= LINE_LENGTH:
        return line
    return "".join([f"from {module} import (\n", *(f"    {n},\n" for n in names), ")"])


def import_lines(modules: dict[str, list[str]], package: str = ".") -> str:
    """One `import_from` line (or block) per module of {module: names}, in order."""
    return "\n".join(
        import_from(names, package + module)
        for module, names in sorted(modules.items())
    )


def all_list(names) -> str:
    """`__all__` with one name a line, in isort's order, as black leaves it."""
    return "".join(
        ["__all__ = [\n", *(f'    "{n}",\n' for n in sorted(names, key=isort_key)), "]"]
    )


def isort_key(name: str) -> tuple[int, str, str]:
    """isort's default order of imported names: CONSTANTS, Classes, functions,
    each group case-insensitively."""
    if name.isupper() and len(name) > 1:
        kind = 0
    elif name[:1].isupper():
        kind = 1
    else:
        kind = 2
    return kind, name.lower(), name


def template_paths(root: Path) -> list[PurePosixPath]:
    """Every file of the template tree, relative to it."""
    return sorted(
        PurePosixPath(p.relative_to(root).as_posix())
        for p in root.rglob("*")
        if p.is_file() and not _is_cache(p.relative_to(root))
    )


def _is_cache(relative: Path) -> bool:
    # Tools leave caches beside files they read (__pycache__, .ruff_cache, ...);
    # no template path starts with a dot.
    return any(part == "__pycache__" or part.startswith(".") for part in relative.parts)


def fingerprint(root: Path | None = None) -> str:
    """A short hash of the whole template tree, recorded in each generated project."""
    root = root or templates_dir()
    digest = hashlib.sha256()
    for rel in template_paths(root):
        digest.update(rel.as_posix().encode() + b"\0")
        digest.update((root / rel).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def manifest(options: Options) -> list[str]:
    """The template files a render of `options` includes, as paths under templates/."""
    files = [*CORE_FILES, *DATA_KINDS[options.data].files]
    for name in options.metrics:
        files.extend(METRICS[name].files)
    for spec in FEATURES.values():
        if spec.render_time and getattr(options, spec.name):
            files.extend(spec.files)
    # A task's own file takes the place of the one at its path.
    own = {_target(f): f for f in TASKS[options.task].files}
    files = [f for f in files if _target(f) not in own] + list(own.values())
    return sorted(dict.fromkeys(files))


def _target(template: str) -> str:
    return output_path(template, "package")


def output_path(template: str, package: str) -> str:
    """Where a template file lands in the generated project. A data kind's files
    sit under data/<kind>/ and a task's under task/<task>/, each a tree of the same
    shape as the one above it."""
    path = template.removesuffix(TEMPLATE_SUFFIX)
    parts = path.split("/")
    if (parts[0] == "data" and parts[1] in DATA_KINDS) or (
        parts[0] == "task" and parts[1] in TASKS
    ):
        path = "/".join(parts[2:])
    path = RENAMED.get(path, path)
    if path.startswith("package/"):
        path = package + path.removeprefix("package")
    return path


def context(options: Options) -> dict:
    """The values the templates see: the options, and what the registry says of them."""
    specs = [METRICS[name] for name in options.metrics]
    features = [
        spec
        for spec in FEATURES.values()
        if spec.render_time and getattr(options, spec.name)
    ]
    handler_modules = {name: list(names) for name, names in CORE_HANDLERS.items()}
    for spec in features:
        if spec.exports:
            handler_modules[_module_name(spec.files[0])] = list(spec.exports)
    metric_modules = {name: list(classes) for name, classes in CORE_METRICS.items()}
    for spec in specs:
        # One module may serve several metrics (precision, recall and f1), and one
        # class several metrics (IoU per class and its mean).
        classes = metric_modules.setdefault(spec.module, [])
        classes.extend(c for c in spec.classes if c not in classes)
    return {
        **options.to_record(),
        "package": options.name,
        "task_spec": TASKS[options.task],
        "scaffold_version": __version__,
        "metric_specs": specs,
        "metric_classes": [cls for spec in specs for cls in spec.classes],
        "metric_modules": dict(sorted(metric_modules.items())),
        "metric_exports": sorted(n for names in metric_modules.values() for n in names),
        "requirements": [req for spec in features for req in spec.requires],
        "dependency_names": [
            re.split(r"[<>=!~ ]", req, maxsplit=1)[0]
            for spec in features
            for req in spec.requires
        ],
        "flag_types": sorted(
            {*CORE_FLAG_TYPES, *(t for spec in features for t in spec.flag_types)}
        ),
        "handler_modules": dict(sorted(handler_modules.items())),
        "handler_imports": sorted(
            n for names in handler_modules.values() for n in names
        ),
    }


def _module_name(path: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(TEMPLATE_SUFFIX).removesuffix(".py")


def render(options: Options, root: Path | None = None) -> dict[str, str]:
    root = root or templates_dir()
    env = _environment(root)
    values = context(options)
    rendered: dict[str, str] = {}
    for template in manifest(options):
        target = output_path(template, options.name)
        if template.endswith(TEMPLATE_SUFFIX):
            text = env.get_template(template).render(values)
            if target.endswith(".py"):
                text = format_python(text, target)
        else:
            text = _read_plain(root / template)
        rendered[target] = text
    return dict(sorted(rendered.items()))


def _read_plain(path: Path) -> str:
    stat = path.stat()
    return _read_cached(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=256)
def _read_cached(path: Path, mtime_ns: int, size: int) -> str:
    # Keyed by modification time and size, so an edited template is read again.
    return path.read_text(encoding="utf-8")


def format_python(text: str, path: str = "<string>") -> str:
    """Return `text` in black's format.

    The templates are written in that format, and the tests hold the output of
    every option set and of one-letter names to it (black --check). What a template
    cannot foresee is a long project name pushing a line of code past 88 columns:
    only then does black run, through a cache keyed by black's version and the
    text. Running it on every file would cost a second per render, most of
    `scaffold new`.
    """
    if not _code_too_long(text):
        return text
    key = hashlib.sha256(f"{_black_version()}\0{text}".encode()).hexdigest()
    if key in _formatted:
        return _formatted[key]
    cached = _cache_dir() / "black" / key if _cache_dir() else None
    if cached is not None and cached.is_file():
        result = cached.read_text(encoding="utf-8")
    else:
        import black  # imported only on a cache miss: it is the slowest import here

        try:
            result = black.format_str(text, mode=black.Mode())
        except black.InvalidInput as exc:  # a template bug, never a user error
            raise RuntimeError(
                f"template for {path} rendered invalid Python: {exc}"
            ) from exc
        if cached is not None:
            _store(cached, result)
    _formatted[key] = result
    return result


_formatted: dict[str, str] = {}


def _code_too_long(text: str) -> bool:
    """Whether a line past LINE_LENGTH could be re-wrapped by black. Lines inside a
    multi-line string (a docstring's usage example naming the package) cannot."""
    too_long = {
        number
        for number, line in enumerate(text.splitlines(), start=1)
        if len(line) > LINE_LENGTH
    }
    if not too_long:
        return False
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            first, last = token.start[0], token.end[0]
            if token.type == tokenize.STRING and last - first > 1:
                too_long.difference_update(range(first + 1, last))
    except (tokenize.TokenError, SyntaxError):
        return True  # black reports where the template went wrong
    return bool(too_long)


@lru_cache(maxsize=1)
def _black_version() -> str:
    return importlib.metadata.version("black")


@lru_cache(maxsize=1)
def _cache_dir() -> Path | None:
    base = os.environ.get("SCAFFOLD_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "scaffold"
    )
    path = Path(base)
    try:
        for kind in ("black", "jinja"):
            (path / kind).mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # no cache: still correct, only slower
    return path


def _store(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
