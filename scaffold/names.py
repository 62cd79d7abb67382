"""A name check of a project's Python files as an update leaves them.

A merge can be clean line by line and still break the code: a module the templates
removed or moved is still imported by a file the user edited or wrote, or keeping
the user's side of a conflict keeps a name the other side no longer defines. This
finds what pyflakes finds of undefined names, and what pyflakes cannot see alone:
imports, inside the project, of modules or names that are no longer there.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from pyflakes.checker import Checker
from pyflakes.messages import UndefinedExport, UndefinedLocal, UndefinedName

# What pyflakes reports that would fail when the code runs.
BREAKING = (UndefinedName, UndefinedExport, UndefinedLocal)
# A conflict block in diff3 style: the user's side, the base, the template's side.
CONFLICT = re.compile(
    rb"^<<<<<<< [^\n]*\n(.*?)^\|\|\|\|\|\|\| [^\n]*\n.*?^=======\n.*?^>>>>>>> [^\n]*\n",
    re.DOTALL | re.MULTILINE,
)


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def check_names(
    files: dict[str, bytes], checked: set[str], package: str
) -> list[Problem]:
    """The problems of the Python files `checked` among `files` ({path: bytes}, the
    whole project after the update). A file with conflict blocks is checked as it
    would be with the user's side of each kept."""
    project = Project(files)
    problems = []
    for path in sorted(checked):
        if not path.endswith(".py") or path not in files:
            continue
        try:
            tree = project.tree(path)
        except (SyntaxError, ValueError) as error:
            line = getattr(error, "lineno", None) or 1
            problems.append(Problem(path, line, f"does not parse ({error.msg})"))
            continue
        for message in Checker(tree, filename=path).messages:
            if isinstance(message, BREAKING):
                text = message.message % message.message_args
                problems.append(Problem(path, message.lineno, text))
        problems.extend(project.broken_imports(path, tree, package))
    return sorted(problems, key=lambda problem: (problem.path, problem.line))


class Project:
    """The project's Python files by module name, parsed when first asked for."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.modules = {}  # dotted module name: path
        for path in files:
            if path.endswith(".py"):
                parts = PurePosixPath(path).with_suffix("").parts
                self.modules[".".join(parts).removesuffix(".__init__")] = path
        self.trees: dict[str, ast.Module] = {}
        self.bound: dict[str, set[str] | None] = {}

    def tree(self, path: str) -> ast.Module:
        if path not in self.trees:
            text = CONFLICT.sub(lambda block: block.group(1), self.files[path])
            self.trees[path] = ast.parse(text, filename=path)
        return self.trees[path]

    def defines(self, module: str) -> set[str] | None:
        """The names a module of the project binds at its top level; None for one
        that does not parse (its own problem is reported apart)."""
        if module not in self.bound:
            self.bound[module] = self.top_level_names(module)
        return self.bound[module]

    def top_level_names(self, module: str) -> set[str] | None:
        try:
            tree = self.tree(self.modules[module])
        except (SyntaxError, ValueError):
            return None
        names = set()
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
            else:
                names.update(
                    target.id
                    for target in ast.walk(node)
                    if isinstance(target, ast.Name)
                    and isinstance(target.ctx, ast.Store)
                )
        return names

    def broken_imports(self, path: str, tree: ast.Module, package: str) -> list:
        """Imports of the project's own modules that are not there, or of names
        such a module does not define."""
        here = PurePosixPath(path).with_suffix("").parts
        problems = []
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = here[: len(here) - node.level]
                target = ".".join([*base, *filter(None, [node.module])])
            elif node.module and node.module.split(".")[0] == package:
                target = node.module
            else:
                continue  # a module of another distribution
            if target not in self.modules:
                message = f"imports {target}, which is not there"
                problems.append(Problem(path, node.lineno, message))
                continue
            defined = self.defines(target)
            for alias in node.names:
                name = alias.name
                if defined is None or name == "*" or name in defined:
                    continue
                if f"{target}.{name}" in self.modules:  # a submodule
                    continue
                message = f"imports {name} from {target}, which does not define it"
                problems.append(Problem(path, node.lineno, message))
        return problems
