"""Static (ast) scan of test files, the third drift surface: which CLI commands tests run
(`@pytest.mark.cli`, click's or typer's CliRunner, subprocess, or an argv list handed to a
function of the app's module such as `main([...])` or `build_parser().parse_args([...])`) and
which falsification ids they check (`@pytest.mark.falsifies`). Nothing is imported or
executed, so it is fast and torch-free."""

from __future__ import annotations

import ast
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pv.findings import Finding

SUBPROCESS_CALLS = {"run", "call", "check_call", "check_output", "Popen"}
SKIP_DIRS = {"__pycache__", ".venv", "node_modules"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Site:
    """A place in a test file: repo-relative file, 1-based line/column, enclosing test."""

    file: str
    line: int
    column: int
    test: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Invocation:
    """A test running `app` with leading words `words` (subcommands, maybe arguments)."""

    site: Site
    app: str
    words: tuple[str, ...]
    via: str  # "marker", "clirunner", "subprocess" or "argv"


@dataclass(frozen=True, slots=True, kw_only=True)
class BoundCheck:
    """A test marked `@pytest.mark.falsifies(*ids)`."""

    site: Site
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TestScan:
    files: tuple[str, ...]
    invocations: tuple[Invocation, ...]
    bound: tuple[BoundCheck, ...]
    broken: tuple[Site, ...]  # files that do not parse; `test` holds the syntax error


def site_finding(rule: str, site: Site, message: str) -> Finding:
    """An error at a place in a test file, naming the test it is in."""
    where = f"{site.test}: " if site.test and rule != "DRIFT-051" else ""
    return Finding(
        rule=rule,
        severity="error",
        file=site.file,
        line=site.line,
        column=site.column,
        path="$",
        message=where + message,
    )


def python_files(folders: tuple[Path, ...]) -> list[Path]:
    """Every .py file under `folders`, sorted, skipping caches and virtualenvs."""
    out: set[Path] = set()
    for folder in folders:
        if folder.is_file() and folder.suffix == ".py":
            out.add(folder)
        elif folder.is_dir():
            out.update(
                p for p in folder.rglob("*.py") if not SKIP_DIRS & set(p.relative_to(folder).parts)
            )
    return sorted(out)


def scan(root: Path, folders: tuple[Path, ...], apps: Mapping[str, str]) -> TestScan:
    """Scan the .py files under `folders`; `apps` maps CLI names to `module:attribute`."""
    files, invocations, bound, broken = [], [], [], []
    for path in python_files(folders):
        rel = _relative(path, root)
        files.append(rel)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
        except (SyntaxError, UnicodeDecodeError, ValueError) as exc:
            line = getattr(exc, "lineno", None) or 1
            broken.append(Site(file=rel, line=line, column=1, test=str(exc)))
            continue
        visitor = _Visitor(rel, _imports(tree), apps)
        visitor.visit(tree)
        invocations.extend(visitor.invocations)
        bound.extend(visitor.bound)
    return TestScan(
        files=tuple(files),
        invocations=tuple(invocations),
        bound=tuple(bound),
        broken=tuple(broken),
    )


def defined_tests(source: str) -> set[str]:
    """Qualified names of the functions and classes a module defines: `f`, `TestC::test_m`."""
    names: set[str] = set()

    def walk(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(prefix + node.name)
                if isinstance(node, ast.ClassDef):
                    walk(node.body, f"{prefix}{node.name}::")

    walk(ast.parse(source).body, "")
    return names


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _imports(tree: ast.Module) -> dict[str, str]:
    """Local name -> dotted origin, e.g. `main` -> `distill.cli.main`, `cli` -> `distill.cli`."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
    return names


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _strings(node: ast.expr | None) -> list[str | None]:
    """A literal argv as strings; a non-literal element is None (the scan stops there)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return list(shlex.split(node.value))
    if isinstance(node, ast.List | ast.Tuple):
        return [
            e.value if isinstance(e, ast.Constant) and isinstance(e.value, str) else None
            for e in node.elts
        ]
    return []


def _leading_words(argv: list[str | None]) -> tuple[str, ...]:
    words: list[str] = []
    for item in argv:
        if item is None or item.startswith("-"):
            break
        words.append(item)
    return tuple(words)


class _Visitor(ast.NodeVisitor):
    def __init__(self, file: str, imports: dict[str, str], apps: Mapping[str, str]) -> None:
        self.file, self.imports = file, imports
        self.stack: list[str] = []
        self.by_target = {t.replace(":", "."): name for name, t in apps.items()}
        self.by_module = {t.partition(":")[0]: name for name, t in apps.items()}
        self.invocations: list[Invocation] = []
        self.bound: list[BoundCheck] = []
        # Literal argv lists bound to a name (`args = ["gate", "--x"]`), per scope, so
        # `runner.invoke(main, args)` and `[*args, "--y"]` resolve too.
        self.literals: dict[tuple[str, ...], dict[str, ast.expr]] = {}

    def visit_Assign(self, node: ast.Assign) -> None:
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            scope = self.literals.setdefault(tuple(self.stack), {})
            scope[node.targets[0].id] = node.value
        self.generic_visit(node)

    def _argv(self, node: ast.expr | None, depth: int = 0) -> list[str | None]:
        """`_strings`, after resolving names bound to literals in this or the module scope."""
        if isinstance(node, ast.Name) and depth < 4:
            for scope in (tuple(self.stack), ()):
                if node.id in self.literals.get(scope, {}):
                    return self._argv(self.literals[scope][node.id], depth + 1)
        if isinstance(node, ast.List | ast.Tuple) and any(
            isinstance(e, ast.Starred) for e in node.elts
        ):
            out: list[str | None] = []
            for e in node.elts:
                out += (
                    self._argv(e.value, depth + 1)
                    if isinstance(e, ast.Starred)
                    else _strings(ast.List(elts=[e], ctx=ast.Load()))
                )
            return out
        return _strings(node)

    def _scoped(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.stack.append(node.name)
        self.generic_visit(node)
        self.stack.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scoped

    def _site(self, node: ast.expr) -> Site:
        test = "::".join(self.stack)
        return Site(file=self.file, line=node.lineno, column=node.col_offset + 1, test=test)

    def visit_Call(self, node: ast.Call) -> None:
        func = _dotted(node.func) or ""
        if func.endswith("mark.falsifies"):
            ids = tuple(_s for a in node.args for _s in _strings(a) if _s)
            self.bound.append(BoundCheck(site=self._site(node), ids=ids))
        elif func.endswith("mark.cli"):
            for arg in node.args:
                words = _leading_words(_strings(arg))
                if words:
                    self._add(node, words[0], words[1:], "marker")
        elif isinstance(node.func, ast.Attribute) and node.func.attr == "invoke" and node.args:
            self._clirunner(node)
        elif func.rpartition(".")[2] in SUBPROCESS_CALLS and node.args:
            self._subprocess(node)
        elif node.args:
            self._argv_call(node)
        self.generic_visit(node)

    def _origin(self, node: ast.expr) -> str | None:
        """The dotted origin of a name or attribute, through the file's imports."""
        target = _dotted(node)
        if target is None:
            return None
        head, _, rest = target.partition(".")
        return self.imports.get(head, head) + (f".{rest}" if rest else "")

    def _argv_call(self, node: ast.Call) -> None:
        """`main(["sub", ...])` with `main` from an app's module, or
        `build_parser().parse_args([...])`: an argparse-style entry called with an argv."""
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call):
            func = func.value.func  # parser_factory().parse_args(argv)
        origin = self._origin(func)
        app = self.by_module.get(origin.rpartition(".")[0]) if origin else None
        argv = self._argv(node.args[0]) if app is not None else []
        if app is not None and argv and isinstance(argv[0], str):
            self._add(node, app, _leading_words(argv), "argv")

    def _add(self, node: ast.expr, app: str, words: tuple[str, ...], via: str) -> None:
        self.invocations.append(Invocation(site=self._site(node), app=app, words=words, via=via))

    def _clirunner(self, node: ast.Call) -> None:
        origin = self._origin(node.args[0])
        if origin is None:
            return
        app = self.by_target.get(origin)
        if app is not None:
            args = node.args[1] if len(node.args) > 1 else None
            args = next((k.value for k in node.keywords if k.arg == "args"), args)
            self._add(node, app, _leading_words(self._argv(args)), "clirunner")

    def _subprocess(self, node: ast.Call) -> None:
        argv = self._argv(node.args[0])
        if isinstance(node.args[0], ast.List | ast.Tuple) and node.args[0].elts:
            first = _dotted(node.args[0].elts[0]) or ""
            if first.endswith("sys.executable") or first == "executable":
                argv[0] = "python"
        if not argv or argv[0] is None:
            return
        exe = Path(argv[0]).name
        if exe in self.by_target.values():
            self._add(node, exe, _leading_words(argv[1:]), "subprocess")
        elif exe.startswith("python") and argv[1:2] == ["-m"] and len(argv) > 2:
            module = argv[2] or ""
            app = next(
                (n for m, n in self.by_module.items() if m == module or m.startswith(module + ".")),
                None,
            )
            if app is not None:
                self._add(node, app, _leading_words(argv[3:]), "subprocess")
