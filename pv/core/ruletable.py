"""Every rule pv can report, declared once: its id, default severity, a one-line title and a
help text that says how to fix it. The text, JSON, SARIF and GitHub reporters, the JSON Schema's
descriptions, the dashboard and `pv rules` all read this table (as ruff's rule registry is read).

SCHEMA, PROVABILITY, BEAT, CRUX, KAIZEN, PARITY, BINDING, EXT-CORPORA and PM-SHAPE ids keep the
meaning and severity of the reference Rust pv; LOAD, PV, DRIFT and GATE ids are pv's own. A PV
rule warns where the reference is silent and refuses only what the reference refuses too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pv.core.findings import Finding, JsonPath, Severity


class Located(Protocol):
    """What a rule reports against: a loaded document that can place a finding (pv.contracts.load's
    Document; named by shape so this table stays below the loader)."""

    def finding(
        self, rule: str, severity: str, path: JsonPath, message: str, suggestion: str | None = None
    ) -> Finding: ...


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    severity: Severity
    title: str
    help: str
    field: str = ""  # the contract field it checks, for the JSON Schema's descriptions

    @property
    def family(self) -> str:
        return self.id.rpartition("-")[0]


_E: Severity = "error"
_W: Severity = "warning"

_ROWS: tuple[Rule, ...] = (
    # --- loading: the file itself ------------------------------------------------------------
    Rule("LOAD-001", _E, "file cannot be read", "Check the path and its permissions."),
    Rule("LOAD-002", _E, "file larger than 1 MiB",
         "A contract is text a person reviews; split it."),
    Rule("LOAD-003", _E, "file is not UTF-8", "Save the file as UTF-8."),
    Rule("LOAD-004", _E, "file is empty", "Write the contract, or delete the file."),
    Rule("LOAD-005", _E, "more than one YAML document", "Put one contract per file."),
    Rule("LOAD-006", _E, "invalid YAML", "Fix the YAML syntax at the line shown."),
    Rule("LOAD-007", _E, "top level is not a mapping", "A contract is a mapping of sections."),
    Rule("LOAD-008", _E, "nesting too deep",
         "Flatten the structure; real contracts nest a few levels."),
    Rule("LOAD-009", _E, "alias explosion",
         "Expand the aliases by hand; they multiply without bound."),
    Rule("LOAD-010", _E, "unsafe or non-JSON YAML tag", "Remove the `!!python/...` or custom tag."),
    Rule("LOAD-011", _E, "mapping key is not a scalar", "Use plain text keys."),
    # --- the reference's contract rules --------------------------------------------------------
    Rule("SCHEMA-001", _E, "metadata.references is empty",
         "Cite the source paper(s) the contract formalises.", "metadata.references"),
    Rule("SCHEMA-002", _E, "metadata.version is empty",
         'Give the contract a version such as "1.0.0".', "metadata.version"),
    Rule("SCHEMA-003", _E, "no equations",
         "A kernel states at least one equation; declare metadata.kind if it is not a kernel.",
         "equations"),
    Rule("SCHEMA-004", _E, "equation formula is empty", "Write the equation's formula."),
    Rule("SCHEMA-005", _E, "proof obligation property is empty",
         "Say in `property` what the obligation asserts."),
    Rule("SCHEMA-006", _W, "duplicate formal predicate",
         "Two obligations state the same `formal`; merge them or make one precise."),
    Rule("SCHEMA-007", _E, "duplicate falsification test id", "Give each test its own id."),
    Rule("SCHEMA-008", _E, "falsification prediction is empty",
         "State the prediction the test can refute."),
    Rule("SCHEMA-009", _W, "falsification if_fails is empty",
         "Say in `if_fails` what a failure would mean (the root cause to look for)."),
    Rule("SCHEMA-010", _E, "duplicate Kani harness id", "Give each harness its own id."),
    Rule("SCHEMA-011", _E, "Kani obligation is empty",
         "Name the proof obligation the harness discharges."),
    Rule("SCHEMA-012", _W, "Kani bound missing", "Give Kani an unwind `bound`."),
    Rule("SCHEMA-013", _W, "no qa_gate", "Add a `qa_gate` naming the checks that gate a release.",
         "qa_gate"),
    Rule("SCHEMA-014", _E, "`requires` on an obligation that is not a postcondition",
         "Move `requires` to a postcondition obligation, or remove it."),
    Rule("SCHEMA-015", _E, "`applies_to_phase` on an obligation that is not a loop (in)variant",
         "Use it on loop_invariant or loop_variant obligations only."),
    Rule("SCHEMA-016", _E, "`parent_contract` on an obligation that is not a subcontract",
         "Use it on subcontract obligations only."),
    Rule("SCHEMA-017", _E, "subcontract parent not listed in metadata.depends_on",
         "List the parent contract in metadata.depends_on."),
    Rule("SCHEMA-018", _E, "top-level `kind:` (the kind lives in metadata.kind)",
         "Move `kind:` under `metadata:`."),
    Rule("SCHEMA-019", _E, "top-level key is a near-miss of a contract block name",
         "Rename the key to the block it was meant to be; as written nothing reads it."),
    Rule("SCHEMA-020", _E, "duplicate mapping key",
         "Merge the two blocks: YAML keeps only the last one."),
    Rule("SCHEMA-021", _E, "not_applicable obligation without na_reason",
         "Say in `na_reason` why it is not a property of the code."),
    Rule("SCHEMA-022", _E, "not_applicable obligation without na_owner",
         "Name in `na_owner` the bench, check or command that verifies it instead."),
    Rule("SCHEMA-023", _E, "na_reason / na_owner on an obligation that is applicable",
         "Remove the justification, or mark the obligation `applies_to: not_applicable`."),
    Rule("SCHEMA-024", _E, "a stated summary count differs from the list it counts",
         "Make verification_summary.total_obligations the number of proof obligations.",
         "verification_summary.total_obligations"),
    Rule("PROVABILITY-001", _E, "contract lacks the obligations, tests or harnesses its kind needs",
         "Add them (a kernel needs obligations, tests and Kani harnesses, and at least as many "
         "tests as obligations), or declare the metadata.kind it really is."),
    # --- the reference's kind rules -------------------------------------------------------------
    Rule("BEAT-001", _E, "beat-benchmark without a beat: block",
         "Give incumbent, metric, direction, beat_threshold, ci_gate_name, approved_compute."),
    Rule("BEAT-002", _E, "beat.incumbent names none of the pillars",
         "Name scikit-learn, pytorch, unsloth, ollama or llama.cpp."),
    Rule("BEAT-003", _E, "beat.metric is empty", "Name the measured quantity."),
    Rule("BEAT-004", _E, "beat.direction is not higher_is_better / lower_is_better",
         "Use higher_is_better or lower_is_better."),
    Rule("BEAT-005", _E, "beat.beat_threshold missing or not finite",
         "Pin the finite value CI fails past."),
    Rule("BEAT-006", _E, "beat.ci_gate_name is empty", "Name the CI test that enforces the gate."),
    Rule("BEAT-007", _E, "beat.approved_compute is not CPU or GPU", "Use CPU or GPU."),
    Rule("CRUX-001", _E, "demand_score missing or outside 1..5", "Score the demand from 1 to 5."),
    Rule("CRUX-002", _E, "competitor missing or not a known research source",
         "Name one of the registered research sources (see the message)."),
    Rule("KAIZEN-001", _E, "kaizen record without a contract id",
         "Name the contract the improvement is for in `contract:`."),
    Rule("KAIZEN-002", _E, "kaizen status missing or unknown",
         "Use draft, implemented, implementing, pending or planned."),
    Rule("KAIZEN-003", _E, "kaizen record states nothing that can fail",
         "State a delta, invariants, obligations or tests."),
    Rule("KAIZEN-004", _E, "kaizen target without a comparable baseline",
         "Give `baseline:` and `target:` maps that share at least one key."),
    Rule("KAIZEN-005", _E, "kaizen baseline -> target moves no number",
         "Record a quantity that changes between baseline and target."),
    Rule("KAIZEN-006", _E, "kaizen raises every cost it measures",
         "An improvement must lower at least one cost it measures."),
    # --- competitive-parity ledgers (the reference's parity rules) ---------------------------
    Rule("PARITY-000", _E, "a parity ledger cannot be a registry",
         "Remove `metadata.registry: true`: a ledger is judged on its rows.", "metadata.registry"),
    Rule("PARITY-001", _E, "no parity: block, or no rows",
         "Give `parity.rows`, one per entry point."),
    Rule("PARITY-002", _E, "row entry_point missing, duplicated or not a canonical key",
         "Name each entry point once, in printable ASCII without surrounding spaces."),
    Rule("PARITY-003", _E, "row without a competitor", "Name the competing tool."),
    Rule("PARITY-004", _E, "competitor_version missing or not pinned",
         "Pin a version with digits; never latest, main, head or similar moving targets."),
    Rule("PARITY-005", _E, "row without both invocations",
         "Give invocation_apr and invocation_competitor, the commands that were compared."),
    Rule("PARITY-006", _E, "row without a verdict",
         "Use BETTER, PARITY, WORSE, NOT_COMPARABLE or UNMEASURED."),
    Rule("PARITY-007", _E, "measured_on / valid_until missing, not a date or out of order",
         "Write ISO dates (YYYY-MM-DD); valid_until must come after measured_on."),
    Rule("PARITY-008", _E, "row without an owner", "Name who re-measures the row."),
    Rule("PARITY-009", _E, "row without evidence", "Point at the measurement."),
    Rule("PARITY-010", _E, "row without a dimension",
         "Say what was compared (speed, accuracy...)."),
    Rule("PARITY-011", _E, "a verdict valid for more than 180 days",
         "Re-measure at least every 180 days: shorten valid_until."),
    Rule("PARITY-012", _E, "downgrade entry_point missing, unknown or recorded twice",
         "A downgrade names one live row, once."),
    Rule("PARITY-013", _E, "downgrade without a reason, owner or dates in order",
         "Give reason, owner, recorded_on and a recheck_by within 180 days after it."),
    Rule("PARITY-014", _E, "downgrade disagrees with the row's verdict",
         "The row's verdict must be the downgrade's to_verdict."),
    Rule("PARITY-015", _E, "falsification test without an executable binding",
         "Bind each test to a command (cargo, bash, sh, make, pv, apr or ./script)."),
    Rule("PARITY-016", _E, "a date past the 180-day horizon",
         "Date nothing more than 180 days ahead of today."),
    Rule("PARITY-017", _E, "a measurement or record dated in the future",
         "Date it on or before today."),
    Rule("PARITY-019", _E, "downgrade from/to verdicts incomplete or equal",
         "Give both from_verdict and to_verdict, and make them differ."),
    Rule("PARITY-021", _E, "no coverage block, or no rationale / dissent",
         "Give `parity.coverage` with its rationale and the dissent it answers."),
    Rule("PARITY-022", _E, "coverage steps that do not strictly increase",
         "Each step raises `by`, covered_min and scope_min, with covered_min <= scope_min."),
    Rule("PARITY-025", _E, "removal without entry point, reason, owner or date",
         "Record what was removed, why, by whom and when."),
    Rule("PARITY-026", _E, "a removal names an entry point still in the ledger",
         "Remove the row (and its downgrades) too, or drop the removal."),
    Rule("PARITY-027", _E, "a rename or merge without a successor",
         "Name the replacement entry point, other than the removed one."),
    # --- other artifacts the reference classifies by shape -----------------------------------
    Rule("BINDING-002", _E, "binding registry without target_crate", "Name the crate bound."),
    Rule("BINDING-003", _E, "binding registry without bindings", "List the bindings."),
    Rule("BINDING-004", _E, "binding without an equation", "Name the equation each binding binds."),
    Rule("BINDING-005", _E, "implemented binding that names no code",
         "Give the function and module_path, or notes saying what discharges it."),
    Rule("BINDING-006", _E, "the same equation bound twice",
         "Keep one binding per contract and equation."),
    Rule("EXT-CORPORA-001", _E, "not an external-corpora declaration of a known version",
         "Write `schema: ont.paiml.dev/external-corpora/v1alpha1`."),
    Rule("EXT-CORPORA-002", _E, "no corpora", "List the corpora declared."),
    Rule("EXT-CORPORA-003", _E, "corpus entry without name, repo, ref or head",
         "Give each entry its name, repo, ref and head."),
    Rule("EXT-CORPORA-004", _E, "repo is not OWNER/NAME", "Write the repository as OWNER/NAME."),
    Rule("EXT-CORPORA-005", _E, "head is not a commit", "Pin head to 7-40 hex digits."),
    Rule("EXT-CORPORA-006", _E, "n_files, counted_by, mark or note of the wrong type",
         "n_files is a whole number; counted_by, mark and note are text."),
    Rule("EXT-CORPORA-007", _E, "unknown key in a declaration", "Remove or rename the key."),
    Rule("EXT-CORPORA-008", _E, "two corpora with one name", "Give each corpus its own name."),
    Rule("EXT-CORPORA-009", _E, "the census cannot read the declaration",
         "Give every entry name, n_files and counted_by."),
    Rule("PM-SHAPE-000", _E, "no publish-manifest-v1.yaml beside the manifest",
         "Put the publish-manifest schema contract in the manifest's folder or one of the two "
         "above it; it lists the fields the manifest must have."),
    Rule("PM-SHAPE-001", _E, "a required manifest field is missing or empty", "Fill it in."),
    Rule("PM-SHAPE-002", _E, "a required provenance field is missing or empty", "Fill it in."),
    Rule("PM-SHAPE-003", _E, "sha256 is not 64 lower-case hex digits", "Write the full digest."),
    Rule("PM-SHAPE-004", _E, "size_bytes is not a positive whole number",
         "Give the size in bytes."),
    Rule("PM-SHAPE-005", _E, "artifact_url is not https", "Publish over https."),
    # --- pv's own checks of a file ------------------------------------------------------------
    Rule("PV-001", _E, "the contract does not parse as the reference reads it",
         "Fix the value the message names: a wrong type, a missing required field, a value "
         "outside its closed list, or a field and its alias both written."),
    Rule("PV-002", _W, "unknown key", "Rename it to a key the schema knows, or remove it."),
    Rule("PV-003", _W, "known misspelling of a contract key", "Rename it as the hint says."),
    Rule("PV-004", _W, "unquoted YAML scalar read as a number or boolean where text is expected",
         "Quote it, so YAML keeps the text written."),
    Rule("PV-005", _W, "Kani obligation names no obligation or equation",
         "Name an equation, an obligation (by id, property, 1-based index or PREFIX-ABBR-N)."),
    Rule("PV-006", _W, "depends_on names a contract not given to pv",
         "Give pv that contract too; it may live in another repository, which is fine.",
         "metadata.depends_on"),
    Rule("PV-007", _E, "dependency cycle between contracts",
         "Break the cycle: a contract cannot depend on itself through others."),
    Rule("PV-008", _W, "falsification id also used by another file", "Give each id one home."),
    Rule("PV-009", _W, "id does not follow the PREFIX-NNN format",
         "Use FALSIFY-PREFIX-NNN (KANI-PREFIX-NNN for harnesses)."),
    Rule("PV-010", _E, "metadata.version cannot be read as a version",
         'Use MAJOR.MINOR.PATCH such as "1.0.0": the gate compares versions.',
         "metadata.version"),
    Rule("PV-012", _W, "top-level key with no value, read as empty",
         "Write `key: []` or remove the key."),
    Rule("PV-013", _W, "metadata.version is not MAJOR.MINOR.PATCH",
         'Write all three parts ("1.0" is read as "1.0.0").', "metadata.version"),
    # --- drift: CLIs, registry, tests and contracts ---------------------------------------------
    Rule("DRIFT-001", _E, "command in the CLI but not in the registry",
         "Run `pv drift --write-registry` and review the new entry."),
    Rule("DRIFT-002", _E, "command in the registry but not in the CLI",
         "Remove the entry (a major bump of the registry), or restore the command."),
    Rule("DRIFT-003", _E, "option in the CLI but not in the registry",
         "Run `pv drift --write-registry` and review the diff."),
    Rule("DRIFT-004", _E, "option in the registry but not in the CLI",
         "Remove the option from the registry, or restore it in the CLI."),
    Rule("DRIFT-005", _E, "option type differs between CLI and registry",
         "Make the two agree; a changed type is a major change of the registry."),
    Rule("DRIFT-006", _E, "option default differs between CLI and registry",
         "Make the two agree; a changed default is a major change of the registry."),
    Rule("DRIFT-007", _E, "option required/multiple/kind differs between CLI and registry",
         "Make the two agree."),
    Rule("DRIFT-008", _E, "command aliases or hidden flag differ between CLI and registry",
         "Make the two agree."),
    Rule("DRIFT-010", _E, "registered command that no test exercises",
         "Invoke it from a test (or mark one @pytest.mark.cli), or waive it with a reason."),
    Rule("DRIFT-011", _E, "test runs a command the CLI refuses",
         "Update the test to the command's current name, or waive it if refusing is the point."),
    Rule("DRIFT-020", _E, "falsification id with no bound check",
         'Mark a test @pytest.mark.falsifies("ID"), or run `pv scaffold`.'),
    Rule("DRIFT-021", _E, "check bound to an id no contract declares",
         "Fix the id in the marker, or declare it in a contract."),
    Rule("DRIFT-030", _E, "test:, binding: or test_locations names nothing that exists",
         "Point it at a test that exists (path::name) or remove it."),
    Rule("DRIFT-031", _E, "algorithm_evidence.status claims a passing check the results contradict",
         "Fix the check, or state the evidence the checks really give."),
    Rule("DRIFT-032", _W, "algorithm_evidence.status is a word pv does not know",
         "Use a status pv knows (VERIFIED, PARTIAL_ALGORITHM_LEVEL, UNVERIFIED, ...)."),
    Rule("DRIFT-040", _E, "a surface yields nothing (no apps, commands, tests or contracts)",
         "Fix [tool.pv] so it names what exists."),
    Rule("DRIFT-041", _E, "a configured app cannot be read",
         "Name a click command, typer app, argparse parser, or a function that builds or runs "
         "one (`pv init --app NAME=MODULE:ATTR`)."),
    Rule("DRIFT-042", _E, "the report of the tests' CLI calls cannot be read",
         "Run pytest again to rewrite it, or point [tool.pv].report at a --pv-report file."),
    Rule("DRIFT-050", _E, "malformed registry entry", "Fix the entry as the message says."),
    Rule("DRIFT-051", _E, "test file does not parse", "Fix the syntax error."),
    Rule("DRIFT-060", _E, "a waiver that matches no finding",
         "Remove it: what it waived is gone."),
    Rule("DRIFT-061", _E, "a waiver without a reason", "Say why the finding is accepted."),
    # --- the gate ------------------------------------------------------------------------------
    Rule("GATE-001", _E, "the version bump is smaller than the change needs",
         "Removing or changing an equation, obligation, test, command, option or default is "
         "major; adding one is minor."),
    Rule("GATE-002", _W, "edited since the base, but the version is the same",
         "Bump the patch version."),
    Rule("GATE-003", _E, "git cannot compare with the base",
         "Fetch the base (actions/checkout with fetch-depth: 0), or pass --base REF."),
    Rule("GATE-004", _W, "contract deleted since the base",
         "Deleting a contract drops its ids: say so in the change."),
)  # fmt: skip

RULES: dict[str, Rule] = {rule.id: rule for rule in _ROWS}


def make(doc: Located, rule: str, path: JsonPath, message: str, hint: str | None = None) -> Finding:
    """A finding for `rule` at `path`, with the rule table's severity."""
    return doc.finding(rule, RULES[rule].severity, path, message, hint)


def severity(rule: str) -> Severity:
    return RULES[rule].severity


def text(value: Any) -> str:
    """A value's text, stripped; anything that is not a string counts as empty."""
    return value.strip() if isinstance(value, str) else ""


def items(data: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    """(index, item) for every mapping in the list at `key` (other shapes are the schema's)."""
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]


def first(item: dict[str, Any], *names: str) -> Any:
    """The first of `names` present in `item`: the newer dialect reads older spellings
    (`statement` for `property`, `expected` for `prediction`, ...) as aliases."""
    for name in names:
        if name in item:
            return item[name]
    return None
