"""The walk over one test file that pv.binding.testscan runs: each argv a test hands to the
project's
CLIs (CliRunner.invoke, directly or through a `partial`, a lambda or a fixture; a subprocess of
the project's program or of `python -m`; the app's entry function or parser called with an
argv), the falsifies markers and the waivers. Names are resolved through the file's imports
(relative ones and those made inside a function included), argv lists through assignments,
`+`, `+=`, `.append` and `.extend`. A call inside `pytest.raises(...)` expects a refusal."""

from __future__ import annotations

import ast
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pv.binding.testsites import BoundCheck, InlineWaiver, Invocation, Site

if TYPE_CHECKING:
    from pv.clis.identity import Identity

SUBPROCESS_CALLS = {"run", "call", "check_call", "check_output", "Popen"}
# Entry functions a program names in its own module besides its configured target.
ENTRY_NAMES = {"main", "run", "cli", "app", "entrypoint", "entry_point", "console_entry"}
PARSE_METHODS = {"parse_args", "parse_known_args", "parse_intermixed_args", "main"}
Found = tuple[str, tuple[str, ...]]  # (app, the subcommand chain the object stands for)


def module_name(rel: str, root: Path) -> str:
    """The dotted module a test file is (for its relative imports): `pkg/tests/test_x.py` is
    `pkg.tests.test_x`, under `src/` too."""
    parts = rel.removesuffix(".py").split("/")
    if parts[:1] == ["src"] and (root / "src").is_dir():
        parts = parts[1:]
    return ".".join(parts)


def imports_of(body: list[ast.stmt], module: str) -> dict[str, str]:
    """Local name -> dotted origin for the imports among `body` (a module's top level, or one
    function's own statements), relative ones resolved against `module`."""
    names: dict[str, str] = {}
    todo = list(body)
    while todo:
        node = todo.pop(0)
        if isinstance(node, ast.If | ast.Try | ast.With):
            todo[:0] = [*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", [])]
            for handler in getattr(node, "handlers", []):
                todo[:0] = handler.body
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module)
            for alias in node.names:
                names[alias.asname or alias.name] = f"{base}.{alias.name}" if base else alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
    return names


def _absolute(node: ast.ImportFrom, module: str) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".")[: -node.level]
    return ".".join([*package, *([node.module] if node.module else [])])


def dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _is_executable(node: ast.expr) -> bool:
    return (dotted(node) or "").endswith("sys.executable") or dotted(node) == "executable"


class Context:
    """What every file's scan shares: the apps, how to recognise them (by configured name, by
    the name a console script gives them, by identity), and the fixtures conftests define."""

    def __init__(
        self, apps: Mapping[str, str], scripts: Mapping[str, str], identity: Identity | None
    ) -> None:
        self.by_target = {t.replace(":", "."): name for name, t in apps.items()}
        self.by_module: dict[str, str] = {}
        for name, target in apps.items():
            self.by_module.setdefault(target.partition(":")[0], name)
        self.programs = {name: name for name in apps} | dict(scripts)
        self.identity = identity
        self.shared: dict[str, Found] = {}  # fixture -> what calling it with an argv runs
        self.shared_apps: dict[str, Found] = {}  # fixture -> the app object it returns

    def share(self, fixtures: tuple[dict[str, Found], dict[str, Found]]) -> None:
        self.shared.update(fixtures[0])
        self.shared_apps.update(fixtures[1])

    def app(self, origin: str) -> Found | None:
        """The app (and subcommand chain) a dotted origin names."""
        if origin in self.by_target:
            return self.by_target[origin], ()
        return self.identity.of_origin(origin) if self.identity is not None else None

    def entry(self, origin: str) -> str | None:
        """The app whose entry `origin` is: its configured target, a function named like an
        entry point in its module, or (by identity) the same function imported elsewhere."""
        if origin in self.by_target:
            return self.by_target[origin]
        module, _, attr = origin.rpartition(".")
        if attr not in ENTRY_NAMES:
            return None  # any other function a test calls with a list is not asked about
        if module in self.by_module:
            return self.by_module[module]
        found = self.identity.of_origin(origin) if self.identity is not None else None
        return found[0] if found is not None and not found[1] else None

    def module_app(self, module: str) -> str | None:
        for where, name in self.by_module.items():
            if where in (module, f"{module}.__main__"):
                return name
        return self.identity.of_module(module) if self.identity is not None else None


def fixtures_of(
    tree: ast.Module, module: str, ctx: Context
) -> tuple[dict[str, Found], dict[str, Found]]:
    """(invoker fixtures, app fixtures) a file defines: a function returning
    `partial(runner.invoke, app)` or `lambda args: runner.invoke(app, args)`, or returning
    the app object itself."""
    imports = imports_of(tree.body, module)
    invokers: dict[str, Found] = {}
    apps: dict[str, Found] = {}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        scoped = {**imports, **imports_of(node.body, module)}
        for sub in ast.walk(node):
            value = sub.value if isinstance(sub, ast.Return | ast.Yield) else None
            if value is None:
                continue
            found = _invoker(value, scoped, ctx)
            if found is not None:
                invokers[_fixture_name(node)] = found
            elif (named := _named(value, scoped, ctx)) is not None:
                apps[_fixture_name(node)] = named
    return invokers, apps


def _fixture_name(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """The name tests ask a fixture by: `@pytest.fixture(name="x")`, else the function's."""
    for deco in node.decorator_list:
        if isinstance(deco, ast.Call):
            for keyword in deco.keywords:
                if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                    return str(keyword.value.value)
    return node.name


def _invoker(node: ast.expr, imports: Mapping[str, str], ctx: Context) -> Found | None:
    """What an expression invokes when called with an argv, if it is such an invoker."""
    if (
        isinstance(node, ast.Call)
        and (dotted(node.func) or "").endswith("partial")
        and len(node.args) > 1
        and isinstance(node.args[0], ast.Attribute)
        and node.args[0].attr == "invoke"
    ):
        return _named(node.args[1], imports, ctx)
    if isinstance(node, ast.Lambda) and isinstance(node.body, ast.Call):
        call = node.body
        if isinstance(call.func, ast.Attribute) and call.func.attr == "invoke" and call.args:
            return _named(call.args[0], imports, ctx)
    return None


def _named(node: ast.expr, imports: Mapping[str, str], ctx: Context) -> Found | None:
    target = dotted(node)
    if target is None:
        return None
    head, _, rest = target.partition(".")
    if head not in imports:
        return None
    return ctx.app(imports[head] + (f".{rest}" if rest else ""))


class Visitor(ast.NodeVisitor):
    def __init__(self, file: str, module: str, tree: ast.Module, ctx: Context) -> None:
        self.file, self.module, self.ctx = file, module, ctx
        self.stack: list[str] = []
        self.invocations: list[Invocation] = []
        self.bound: list[BoundCheck] = []
        self.waivers: list[InlineWaiver] = []
        self.local_commands: set[str] = set()
        own = fixtures_of(tree, module, ctx)
        self.fixtures = {**ctx.shared, **own[0]}
        self.app_fixtures = {**ctx.shared_apps, **own[1]}
        # per scope: imports, names bound to expressions, invokers and app objects in reach
        self.imports: dict[tuple[str, ...], dict[str, str]] = {(): imports_of(tree.body, module)}
        self.bindings: dict[tuple[str, ...], dict[str, ast.expr]] = {}
        self.invokers: dict[tuple[str, ...], dict[str, Found]] = {}
        self.objects: dict[tuple[str, ...], dict[str, Found]] = {}
        self.lambda_args: list[set[str]] = []
        self.raising = 0  # depth of `with pytest.raises(...)` blocks around the current node

    # --- scopes and bindings --------------------------------------------------------------

    def _scoped(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self._decorators(node)
        self.stack.append(node.name)
        scope = tuple(self.stack)
        self.imports[scope] = imports_of(node.body, self.module)
        if not isinstance(node, ast.ClassDef):
            for arg in node.args.args + node.args.kwonlyargs:
                if arg.arg in self.fixtures:
                    self.invokers.setdefault(scope, {})[arg.arg] = self.fixtures[arg.arg]
                if arg.arg in self.app_fixtures:
                    self.objects.setdefault(scope, {})[arg.arg] = self.app_fixtures[arg.arg]
        self.generic_visit(node)
        self.stack.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scoped

    def visit_Lambda(self, node: ast.Lambda) -> None:
        """An argv that is a lambda's parameter is an invoker's body, not a call a test made."""
        self.lambda_args.append({a.arg for a in node.args.args})
        self.generic_visit(node)
        self.lambda_args.pop()

    def visit_With(self, node: ast.With) -> None:
        raising = any(
            isinstance(item.context_expr, ast.Call)
            and (dotted(item.context_expr.func) or "").endswith("raises")
            for item in node.items
        )
        self.raising += raising
        self.generic_visit(node)
        self.raising -= raising

    def visit_Assign(self, node: ast.Assign) -> None:
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            self._bind(node.targets[0].id, node.value)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name) and isinstance(node.op, ast.Add):
            self._grow(node.target.id, node.value)
        self.generic_visit(node)

    def _bind(self, name: str, value: ast.expr) -> None:
        scope = tuple(self.stack)
        self.bindings.setdefault(scope, {})[name] = value
        found = _invoker(value, self._imports(), self.ctx)
        if found is not None:
            self.invokers.setdefault(scope, {})[name] = found

    def _grow(self, name: str, more: ast.expr) -> None:
        """`args += [...]`, `args.extend([...])`: the binding becomes `args + [...]`."""
        bound = self._lookup(self.bindings, name)
        if isinstance(bound, ast.expr):
            grown = ast.BinOp(left=bound, op=ast.Add(), right=more)
            self.bindings.setdefault(tuple(self.stack), {})[name] = grown

    def _lookup(self, table: Mapping[tuple[str, ...], Mapping[str, object]], name: str) -> object:
        for depth in range(len(self.stack), -1, -1):
            scope = table.get(tuple(self.stack[:depth]), {})
            if name in scope:
                return scope[name]
        return None

    def _imports(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for depth in range(len(self.stack) + 1):
            out.update(self.imports.get(tuple(self.stack[:depth]), {}))
        return out

    def _argv(self, node: ast.expr | None, depth: int = 0) -> list[str | None]:
        """An argv as strings (None for what cannot be read), through names bound to
        literals in enclosing scopes, `[*a, ...]` and `a + b`."""
        if node is None or depth > 8:
            return [None]
        if isinstance(node, ast.Name):
            bound = self._lookup(self.bindings, node.id)
            return self._argv(bound, depth + 1) if isinstance(bound, ast.expr) else [None]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self._argv(node.left, depth + 1) + self._argv(node.right, depth + 1)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return list(shlex.split(node.value))
        if isinstance(node, ast.List | ast.Tuple):
            out: list[str | None] = []
            for e in node.elts:
                if isinstance(e, ast.Starred):
                    out += self._argv(e.value, depth + 1)
                elif isinstance(e, ast.Constant) and isinstance(e.value, str):
                    out.append(e.value)
                else:
                    out.append("python" if _is_executable(e) else None)
            return out
        return [None]

    def _is_argv(self, node: ast.expr) -> bool:
        """A list, tuple, `+` of them or a name bound to one: what an argv is written as (a
        bare string handed to a function is an argument, not a command line)."""
        if isinstance(node, ast.Name):
            bound = self._lookup(self.bindings, node.id)
            return isinstance(bound, ast.expr) and self._is_argv(bound)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self._is_argv(node.left) or self._is_argv(node.right)
        return isinstance(node, ast.List | ast.Tuple)

    # --- markers ------------------------------------------------------------------------------

    def _decorators(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        for deco in node.decorator_list:
            call = deco if isinstance(deco, ast.Call) else None
            name = dotted(call.func if call else deco) or ""
            if call is not None and name.endswith(("mark.waives", "mark.waive")) and call.args:
                self._waiver(node, call)
            elif name.rpartition(".")[2] == "command" and ".mark." not in f".{name}":
                given = call.args[0] if call is not None and call.args else None
                keyword = [k.value for k in call.keywords if k.arg == "name"] if call else []
                given = keyword[0] if keyword else given
                words = self._argv(given) if given is not None else []
                named = words[0] if words and isinstance(words[0], str) else None
                self.local_commands.add(named or node.name.replace("_", "-"))

    def _waiver(self, node: ast.AST, call: ast.Call) -> None:
        rule = call.args[0]
        reason = next((k.value for k in call.keywords if k.arg == "reason"), None)
        if len(call.args) > 1 and reason is None:
            reason = call.args[1]
        text = reason.value if isinstance(reason, ast.Constant) else ""
        test = "::".join([*self.stack, getattr(node, "name", "")])
        site = Site(file=self.file, line=getattr(node, "lineno", 1), column=1, test=test)
        if isinstance(rule, ast.Constant) and isinstance(rule.value, str):
            self.waivers.append(InlineWaiver(site=site, rule=rule.value, reason=str(text)))

    # --- calls --------------------------------------------------------------------------------

    def _site(self, node: ast.expr) -> Site:
        test = "::".join(self.stack)
        return Site(file=self.file, line=node.lineno, column=node.col_offset + 1, test=test)

    def _origin(self, node: ast.expr) -> str | None:
        """The dotted origin of a name or attribute, through the imports in reach."""
        target = dotted(node)
        if target is None:
            return None
        head, _, rest = target.partition(".")
        return self._imports().get(head, head) + (f".{rest}" if rest else "")

    def _object(self, node: ast.expr) -> Found | None:
        """The app (and subcommand) an expression names: an import, or a fixture argument."""
        if isinstance(node, ast.Name):
            found = self._lookup(self.objects, node.id)
            if isinstance(found, tuple):
                return found
        return _named(node, self._imports(), self.ctx)

    def visit_Call(self, node: ast.Call) -> None:
        func = dotted(node.func) or ""
        origin = self._origin(node.func) or ""
        method = node.func.attr if isinstance(node.func, ast.Attribute) else ""
        if func.endswith("mark.falsifies"):
            ids = tuple(s for a in node.args for s in self._argv(a) if s)
            self.bound.append(BoundCheck(site=self._site(node), ids=ids))
        elif func.endswith("mark.cli"):
            for arg in node.args:
                words = tuple(w for w in self._argv(arg) if w is not None)
                if words:
                    self._add(node, words[0], words[1:], "marker")
        elif method == "invoke" and node.args:
            self._clirunner(node)
        elif method in ("extend", "append") and isinstance(node.func, ast.Attribute):
            target = node.func.value
            if isinstance(target, ast.Name) and node.args:
                more = node.args[0] if method == "extend" else ast.List(elts=[node.args[0]])
                self._grow(target.id, more)
        elif origin.startswith("subprocess.") and func.rpartition(".")[2] in SUBPROCESS_CALLS:
            self._subprocess(node)
        elif isinstance(node.func, ast.Name) and node.args and self._invoker(node.func.id):
            app, chain = self._invoker(node.func.id) or ("", ())
            self._add(node, app, (*chain, *self._argv(node.args[0])), "clirunner")
        elif node.args or node.keywords:
            self._argv_call(node)
        self.generic_visit(node)

    def _invoker(self, name: str) -> Found | None:
        found = self._lookup(self.invokers, name)
        return found if isinstance(found, tuple) else None

    def _argv_call(self, node: ast.Call) -> None:
        """`main([...])` / `cli.run((...))` with an entry function of an app, `cli.main([...])`
        on an app, or `parser.parse_args([...])` on a parser an app's module builds: an
        argparse-style entry called with an argv; `main("--x", path)` for a varargs entry."""
        argv = node.args[0] if node.args else None
        argv = next((k.value for k in node.keywords if k.arg in ("args", "argv")), argv)
        app = self._entry(node.func)
        if app is None or argv is None:
            return
        if self._is_argv(argv):
            self._add(node, app, tuple(self._argv(argv)), "argv")
        elif any(
            isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args
        ) and all(isinstance(a, ast.Constant | ast.Name | ast.Attribute) for a in node.args):
            words = [w for a in node.args for w in self._argv(ast.List(elts=[a]))]
            self._add(node, app, tuple(words), "argv")

    def _entry(self, func: ast.expr) -> str | None:
        origin = self._origin(func)
        if origin is not None and (app := self.ctx.entry(origin)) is not None:
            return app
        if not isinstance(func, ast.Attribute) or func.attr not in PARSE_METHODS:
            return None
        owner = func.value  # parser_factory().parse_args(argv), or `parser` bound to one
        if isinstance(owner, ast.Name):
            bound = self._lookup(self.bindings, owner.id)
            owner = bound if isinstance(bound, ast.Call) else owner
        if isinstance(owner, ast.Call):
            made_by = self._origin(owner.func) or ""
            return self.ctx.by_module.get(made_by.rpartition(".")[0])
        found = self._object(owner)
        return found[0] if found is not None and not found[1] else None

    def _add(self, node: ast.expr, app: str, argv: tuple[str | None, ...], via: str) -> None:
        self.invocations.append(
            Invocation(
                site=self._site(node), app=app, argv=argv, via=via, expects_error=self.raising > 0
            )
        )

    def _clirunner(self, node: ast.Call) -> None:
        found = self._object(node.args[0])
        if found is None:
            return
        args = node.args[1] if len(node.args) > 1 else None
        args = next((k.value for k in node.keywords if k.arg == "args"), args)
        if isinstance(args, ast.Name) and any(args.id in a for a in self.lambda_args):
            return
        app, chain = found
        self._add(node, app, (*chain, *(self._argv(args) if args is not None else ())), "clirunner")

    def _subprocess(self, node: ast.Call) -> None:
        first = node.args[0] if node.args else None
        first = next((k.value for k in node.keywords if k.arg == "args"), first)
        if first is None:
            return
        shell = any(k.arg == "shell" for k in node.keywords)
        argv = self._argv(first)
        if not shell and isinstance(first, ast.Constant):
            argv = [first.value] if isinstance(first.value, str) else [None]
        if not argv or argv[0] is None:
            return
        exe = Path(argv[0]).name.removesuffix(".exe")
        if exe in self.ctx.programs:
            self._add(node, self.ctx.programs[exe], tuple(argv[1:]), "subprocess")
            return
        from pv.clis.observe import python_module

        text = [a if a is not None else "\0" for a in argv]
        module = python_module(["python" if exe.startswith("python") else exe, *text[1:]])
        app = self.ctx.module_app(module[0]) if module is not None else None
        if module is not None and app is not None:
            rest = tuple(None if a == "\0" else a for a in module[1])
            self._add(node, app, rest, "subprocess")
