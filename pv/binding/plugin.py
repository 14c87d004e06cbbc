"""pytest plugin `pv`: registers the `falsifies` and `mutants` markers and maps test results
back to falsification ids (serially and under xdist, where the controller aggregates).
Imported by pytest on every run, so it imports nothing heavy and stays silent unless asked."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    # pv.binding.bind is imported where it is used: pytest imports this module before coverage
    # starts, and a run without pv markers never needs it.
    from pv.binding.bind import CheckResult, DeclaredId, IdState, Outcome
    from pv.clis.observe import CliCall, Recorder
    from pv.core.config import PvConfig

# The keys a check's report carries its ids and mutant state under (pv.binding.mutants writes two).
IDS_PROPERTY = "pv_falsifies"
MUTANTS_PROPERTY = "pv_mutants"
APPLIED_PROPERTY = "pv_mutant_applied"
MUTANT_ERROR_PROPERTY = "pv_mutant_error"

_PLUGIN_NAME = "pv-session"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pv", "falsification ids (pv)")
    group.addoption(
        "--pv-contracts",
        action="append",
        metavar="PATH",
        help="contract file or folder whose falsification ids to report (repeatable; "
        "default: contracts/ under the rootdir when it exists)",
    )
    group.addoption(
        "--pv-strict",
        action="store_true",
        default=False,
        help="fail the session unless every declared id is passed (zero ids never pass)",
    )
    group.addoption("--pv-report", metavar="FILE", help="write the id report as JSON to FILE")
    group.addoption(
        "--pv-only-bound",
        action="store_true",
        default=False,
        help="deselect every test that is not bound to an id of the loaded contracts",
    )
    parser.addini("pv_contracts", "contract files or folders (rootdir-relative)", type="args")
    parser.addini("pv_strict", "as --pv-strict", type="bool", default=False)
    parser.addini("pv_report", "as --pv-report (rootdir-relative)", type="string", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "falsifies(*ids): this test is the executable check behind the given FALSIFY ids",
    )
    config.addinivalue_line(
        "markers",
        "mutants(*names): deliberate breaks this check must kill (see `pv falsify --mutants`)",
    )
    config.addinivalue_line("markers", "cli(*paths): this test exercises a CLI command (pv drift)")
    config.addinivalue_line(
        "markers",
        "waives(rule, reason=...): accept a pv drift finding about this test, with the reason",
    )
    # State lives on a per-config plugin object, never in module globals: pytester runs
    # many sessions in one process.
    config.pluginmanager.register(PvSession(config), _PLUGIN_NAME)


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.pluginmanager.get_plugin(_PLUGIN_NAME)
    if plugin is not None:
        plugin.stop_recording()
        config.pluginmanager.unregister(plugin)


def _marker_args(item: pytest.Item, name: str) -> list[str]:
    return [str(arg) for mark in item.iter_markers(name) for arg in mark.args]


class PvSession:
    """One session's accumulator: collected checks, their phase outcomes, the final states."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.strict = bool(config.getoption("pv_strict") or config.getini("pv_strict"))
        self.project = _project_config(config.rootpath)
        report = config.getoption("pv_report") or config.getini("pv_report")
        self.report_path = Path(report) if report else None
        if self.report_path and not config.getoption("pv_report"):
            self.report_path = config.rootpath / self.report_path
        # [tool.pv].report is where `pv drift` reads the last whole run: written beside an
        # explicit --pv-report, but only by a run of the whole suite (see _partial)
        self.configured = self.project.report if self.project is not None else None
        self.given = self.report_path
        self.report_path = self.report_path or self.configured
        self.only_bound = bool(config.getoption("pv_only_bound"))
        self.explicit = bool(config.getoption("pv_contracts") or self.strict or self.given)
        self.collected: dict[str, list[str]] = {}
        self.phases: dict[str, dict[str, Any]] = {}
        self.load_errors: list[str] = []
        self.states: list[IdState] = []
        self._declared: list[DeclaredId] | None = None
        self.cli_calls: list[CliCall] = []
        self.deselected = 0
        self.partial: str | None = None
        self.recording_error: str | None = None
        self.recorder = self._start_recording()

    # --- the CLI calls the tests make (pv.clis.observe) -----------------------------------------

    def _start_recording(self) -> Recorder | None:
        """Record the project's CLI calls when this session writes a report for them."""
        if self.report_path is None or self.project is None or not self.project.apps:
            return None
        from pv.clis.entrypoints import scripts
        from pv.clis.observe import Recorder

        declared = {s.name: s.target for s in scripts(self.project.root)}
        recorder = Recorder(dict(self.project.apps), declared)
        try:
            recorder.install()
        except Exception as exc:  # pv must never break the project's test run
            recorder.uninstall()
            self.recording_error = f"pv could not listen to the CLIs: {exc}"
            return None
        return recorder

    def stop_recording(self) -> None:
        if self.recorder is not None:
            self.recorder.uninstall()
            self.cli_calls.extend(self.recorder.calls)
            self.recorder = None

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected += len(items)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Any:
        if self.recorder is not None:
            self.recorder.refresh()
            self.recorder.test = item.nodeid
        yield
        if self.recorder is not None:
            self.recorder.test = ""

    # --- contracts ------------------------------------------------------------------------

    def contract_paths(self) -> list[Path]:
        given: list[str] = self.config.getoption("pv_contracts") or []
        base = Path.cwd()
        if not given:
            given, base = list(self.config.getini("pv_contracts")), self.config.rootpath
        if not given:
            default = self.config.rootpath / "contracts"
            return [default] if default.is_dir() else []
        return [p if p.is_absolute() else base / p for p in map(Path, given)]

    @property
    def declared(self) -> list[DeclaredId]:
        """The contracts' ids, loaded once on first use (never at import, never per test)."""
        if self._declared is None:
            self._declared = self._load()
        return self._declared

    def _load(self) -> list[DeclaredId]:
        from pv.binding.bind import contract_files, declared_checks
        from pv.contracts.load import load_file

        out: list[DeclaredId] = []
        paths = self.contract_paths()
        self.load_errors = [
            f"{p}: no such contract file or folder" for p in paths if not p.exists()
        ]
        for path in contract_files(paths):
            doc = load_file(path, display=self._display(path))
            if doc.data is None:
                self.load_errors.extend(f"{f.file}:{f.line}: {f.message}" for f in doc.findings)
                continue
            out.extend(declared_checks(doc.file, doc.data))
        return out

    def _display(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.config.rootpath.resolve()).as_posix()
        except ValueError:
            return str(path)

    @property
    def active(self) -> bool:
        """Speak only when asked (a --pv-* option or ini key) or when checks were collected."""
        return self.explicit or any(self.collected.values())

    def results(self) -> list[CheckResult]:
        return [r for r in (_fold(n, rec) for n, rec in self.phases.items()) if r is not None]

    # --- hooks ----------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Tag each check's reports with its ids (user_properties travel to the xdist
        controller) and remember every collected check, so one never run is `not-run`."""
        for item in items:
            ids, mutants = _marker_args(item, "falsifies"), _marker_args(item, "mutants")
            if ids:
                item.user_properties.append((IDS_PROPERTY, ids))
            if mutants:
                item.user_properties.append((MUTANTS_PROPERTY, mutants))
            self.collected[item.nodeid] = ids
        if self.only_bound:
            self._deselect_unbound(items)

    def _deselect_unbound(self, items: list[pytest.Item]) -> None:
        known = {d.id for d in self.declared}
        named = {ref.nodeid for d in self.declared for ref in d.refs if ref.nodeid is not None}
        keep: list[pytest.Item] = []
        drop: list[pytest.Item] = []
        for item in items:
            bound = known.intersection(self.collected[item.nodeid])
            (keep if bound or item.nodeid.split("[", 1)[0] in named else drop).append(item)
        if drop:
            self.config.hook.pytest_deselected(items=drop)
            items[:] = keep

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Fold each phase into the per-check record (on the controller under xdist)."""
        record = self.phases.setdefault(
            report.nodeid, {"phases": {}, "duration": 0.0, "props": {}, "measured": {}}
        )
        outcome = report.outcome
        if outcome == "skipped" and hasattr(report, "wasxfail"):
            outcome = "failed"  # an expected failure is still a check that did not pass
        record["phases"][report.when] = outcome
        record["duration"] += report.duration
        for key, value in report.user_properties:
            record["props" if key.startswith("pv_") else "measured"][key] = value
        ids = record["props"].get(IDS_PROPERTY, [])
        if report.failed and ids and not hasattr(self.config, "workerinput"):
            self._explain_failure(report, ids)

    def _explain_failure(self, report: pytest.TestReport, ids: list[str]) -> None:
        """Show the contract's prediction and if_fails next to the check's own failure."""
        by_id = {d.id: d for d in self.declared}
        for ident in ids:
            decl = by_id.get(ident)
            if decl is None:
                body = f"{ident} is declared by no loaded contract"
            else:
                body = (
                    f"contract:   {decl.contract}\nprediction: {decl.prediction}\n"
                    f"if_fails:   {decl.if_fails}"
                )
            report.sections.append((f"pv {ident}", body))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """xdist controller: merge what each worker collected (sent in its workeroutput)."""
        output = getattr(node, "workeroutput", {})
        for nodeid, ids in output.get("pv_collected", {}).items():
            self.collected.setdefault(nodeid, list(ids))
        self.cli_calls.extend(output.get("pv_cli_calls", []))
        self.deselected = max(self.deselected, int(output.get("pv_deselected", 0)))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.stop_recording()
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:  # an xdist worker: hand its findings to the controller
            from pv.clis.observe import dedupe

            workeroutput["pv_collected"] = self.collected
            workeroutput["pv_cli_calls"] = dedupe(self.cli_calls)
            workeroutput["pv_deselected"] = self.deselected
            return
        self.partial = _partial(self.config, session, self.deselected)
        if not self.active and (self.configured is None or self.partial is not None):
            return
        from pv.binding.bind import resolve

        self.states = resolve(self.declared, self.results(), self.collected)
        wanted = [self.given] + ([self.configured] if self.partial is None else [])
        paths = [p for p in dict.fromkeys(wanted) if p is not None]
        if paths:
            from pv.binding import idreport
            from pv.core.atomic import WriteError

            report = self.report()
            try:
                for path in paths:
                    idreport.write_json(path, report)
            except WriteError as exc:  # the previous report is kept whole
                print(f"pv: error: {exc}", file=sys.stderr)
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
                return
        if self.strict and session.exitstatus == 0 and self.strict_failures():
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def report(self) -> dict[str, Any]:
        """This session's id report (pv.binding.idreport), as --pv-report writes it."""
        from pv.binding import idreport

        return idreport.build(
            states=self.states,
            results=self.results(),
            undeclared=self.undeclared(),
            load_errors=self.load_errors,
            root=self.config.rootpath,
            cli=self.cli_record(),
        )

    def cli_record(self) -> dict[str, Any] | None:
        """The recorded CLI calls with each test's outcome, and whether every test ran."""
        if self.project is None or not self.project.apps or self.recording_error:
            return None
        from pv.clis.observe import dedupe

        outcomes = {nodeid: _outcome(rec["phases"]) for nodeid, rec in self.phases.items()}
        calls = [{**c, "outcome": outcomes.get(c.get("test", ""), "")} for c in self.cli_calls]
        return {
            "apps": dict(self.project.apps),
            "complete": self.partial is None,
            "partial": self.partial,
            "tests": len(self.phases),
            "calls": dedupe(calls),  # type: ignore[arg-type]
        }

    def undeclared(self) -> dict[str, list[str]]:
        from pv.binding.bind import undeclared

        return undeclared(self.declared, self.results())

    def strict_failures(self) -> list[str]:
        """Why --pv-strict refuses this session; empty when every declared id passed."""
        reasons = [f"{s.declared.id} is {s.state}" for s in self.states if s.state != "passed"]
        reasons += [f"{ident} is declared by no contract" for ident in self.undeclared()]
        reasons += [f"contract not loaded: {err}" for err in self.load_errors]
        if not self.states:
            reasons.append("no falsification ids: a session over zero ids never passes")
        return reasons

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.active or hasattr(self.config, "workerinput"):
            return
        from pv.binding.idreport import render_text

        terminalreporter.write_sep("=", "pv falsification ids")
        for line in render_text(self.report()):
            terminalreporter.write_line(line)
        if self.strict:
            reasons = self.strict_failures()
            verdict = "FAILED: " + "; ".join(reasons[:5]) if reasons else "every id passed"
            terminalreporter.write_line(
                f"pv --pv-strict: {verdict}", red=bool(reasons), green=not reasons
            )


def _project_config(rootpath: Path) -> PvConfig | None:
    """The project's [tool.pv], if its pyproject.toml at the rootdir has one that reads."""
    pyproject = rootpath / "pyproject.toml"
    if not pyproject.is_file():
        return None
    from pv.core.config import ConfigError, load_config

    try:
        return load_config(pyproject=pyproject)
    except ConfigError:
        return None  # a malformed [tool.pv] is pv drift's to report, not the test run's


def _partial(config: pytest.Config, session: pytest.Session, deselected: int) -> str | None:
    """Why this session did not run the whole suite (so its CLI calls are not the whole
    test surface), or None when it did."""
    option = config.option
    if deselected:
        return f"{deselected} tests were deselected"
    if getattr(option, "keyword", ""):
        return "tests were selected with -k"
    if getattr(option, "markexpr", ""):
        return "tests were selected with -m"
    if getattr(option, "lf", False) or getattr(option, "pv_only_bound", False):
        return "only some tests were run (--lf or --pv-only-bound)"
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        given = {Path(a.split("::")[0]).resolve() for a in config.args}
        whole = {(config.rootpath / p).resolve() for p in config.getini("testpaths")}
        if given != (whole or {config.rootpath.resolve()}):
            return "pytest was given paths: " + " ".join(config.args)
    if session.shouldstop or session.shouldfail:
        return "the run stopped early"
    return None


def _outcome(phases: dict[str, str]) -> str:
    if "failed" in phases.values():
        return "failed"
    if "skipped" in phases.values():
        return "skipped"
    return "passed" if phases.get("call") == "passed" else "not-run"


def _fold(nodeid: str, record: dict[str, Any]) -> CheckResult | None:
    """setup / call / teardown -> one outcome; None when the call never happened."""
    phases: dict[str, str] = record["phases"]
    outcome: Outcome
    if "failed" in phases.values():
        outcome = "failed"
    elif "skipped" in phases.values():
        outcome = "skipped"
    elif phases.get("call") == "passed":
        outcome = "passed"
    else:
        return None
    from pv.binding.bind import CheckResult

    props = record["props"]
    return CheckResult(
        nodeid=nodeid,
        outcome=outcome,
        ids=tuple(props.get(IDS_PROPERTY, ())),
        duration=round(record["duration"], 6),
        mutants=tuple(props.get(MUTANTS_PROPERTY, ())),
        mutant_applied=props.get(APPLIED_PROPERTY),
        mutant_error=props.get(MUTANT_ERROR_PROPERTY),
        properties=tuple(record["measured"].items()),
    )
