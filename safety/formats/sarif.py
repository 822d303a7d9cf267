"""SARIF 2.1.0 output (as GitHub code scanning reads it), built with sarif-om like bandit's own formatter."""

from __future__ import annotations

import pathlib
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from codeward import __version__
from codeward.safety.findings import Finding
from codeward.safety.formats.report import FileReport

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"high": "error", "medium": "warning", "low": "note"}
SECURITY_SEVERITY = {"high": "8.0", "medium": "5.5", "low": "3.0"}  # GitHub's high / medium / low bands
PYFLAKES = {"F821": ("undefined-name", "A name is used but defined nowhere"),
            "F823": ("undefined-local", "A local variable is read before it is assigned")}


def rule_meta(rule_id: str) -> tuple[str, str, str | None]:
    """(name, short description, help URI) of a rule id from bandit, codeward's catalogue or pyflakes."""
    from codeward.safety.catalogue import rule_info

    cw = rule_info(rule_id) if rule_id.upper().startswith("CW") else None
    if cw is not None:
        return cw.name, cw.message, None
    if rule_id in PYFLAKES:
        name, text = PYFLAKES[rule_id]
        return name, text, "https://flake8.pycqa.org/en/latest/user/error-codes.html"
    from bandit.core import docs_utils, extension_loader

    manager = extension_loader.MANAGER
    plugin = manager.plugins_by_id.get(rule_id)
    if plugin is not None:
        return plugin.name, _doc_title(plugin.plugin.__doc__, rule_id) or plugin.name, docs_utils.get_url(rule_id)
    for tests in manager.blacklist.values():
        for test in tests:
            if test["id"] == rule_id:
                return test["name"], str(test["message"]).split("{")[0].strip() or test["name"], \
                    docs_utils.get_url(rule_id)
    return rule_id, rule_id, None


def _doc_title(doc: str | None, rule_id: str) -> str:
    """A bandit plugin docstring's title as plain text: `**B605: Test for ...**` -> `Test for ...`."""
    lines = [line.strip() for line in (doc or "").splitlines() if line.strip().strip("=*")]
    title = lines[0].strip("*").strip() if lines else ""
    return title.removeprefix(f"{rule_id}:").strip()


def _descriptor(rule_id: str, sample: Finding) -> Any:
    """A rule's metadata (its kind among the properties), from the catalogue or the checker and a sample finding."""
    import sarif_om as om

    name, text, help_uri = rule_meta(rule_id)
    tags = ["security" if sample.kind == "security" or sample.cwe else "correctness"]
    if sample.cwe:
        tags.append(f"external/cwe/cwe-{sample.cwe}")
    props: dict[str, Any] = {"tags": tags, "kind": sample.kind, "precision": {
        "low": "low", "medium": "medium", "high": "high"}.get(sample.confidence, "medium")}
    if sample.cwe:
        props["security-severity"] = SECURITY_SEVERITY.get(sample.severity, "5.5")
    return om.ReportingDescriptor(
        id=rule_id, name=name, short_description=om.MultiformatMessageString(text=text), help_uri=help_uri,
        default_configuration=om.ReportingConfiguration(level=LEVELS.get(sample.severity, "warning")),
        properties=props)


def to_uri(path: str) -> str:
    """A relative path as a %-encoded POSIX URI (absolute paths become file: URIs)."""
    pure = pathlib.PurePath(path)
    return pure.as_uri() if pure.is_absolute() else urllib.parse.quote(pure.as_posix())


def _result(path: str, f: Finding, index: int) -> Any:
    import sarif_om as om

    region = om.Region(start_line=f.line, end_line=max(f.end_line, f.line), start_column=f.col + 1)
    location = om.Location(physical_location=om.PhysicalLocation(
        artifact_location=om.ArtifactLocation(uri=to_uri(path)), region=region))
    flows = None
    if f.flow:  # a taint finding's path, source first
        steps = [om.ThreadFlowLocation(location=om.Location(
            physical_location=om.PhysicalLocation(artifact_location=om.ArtifactLocation(uri=to_uri(path)),
                                                  region=om.Region(start_line=s.line, start_column=s.col + 1)),
            message=om.Message(text=s.note))) for s in f.flow]
        flows = [om.CodeFlow(thread_flows=[om.ThreadFlow(locations=steps)])]
    return om.Result(rule_id=f.rule_id, rule_index=index, level=LEVELS.get(f.severity, "warning"),
                     message=om.Message(text=f.message), locations=[location], code_flows=flows,
                     properties={"severity": f.severity, "confidence": f.confidence, "source": f.source,
                                 "kind": f.kind})


def build_log(reports: Sequence[FileReport], disabled_by_project: Mapping[str, Any] | None = None) -> Any:
    """The sarif_om.SarifLog of a review: one run, rules for every rule id found, file errors as notifications;
    the run's properties carry `disabled_by_project`, the checks the project's config file weakened."""
    import sarif_om as om

    findings = [(r.path, f) for r in reports for f in r.findings]
    order: dict[str, int] = {}
    rules = []
    for _, f in findings:
        if f.rule_id not in order:
            order[f.rule_id] = len(rules)
            rules.append(_descriptor(f.rule_id, f))
    notes = [om.Notification(level="error", message=om.Message(text=f"{r.path}: {r.error}"),
                             locations=[om.Location(physical_location=om.PhysicalLocation(
                                 artifact_location=om.ArtifactLocation(uri=to_uri(r.path))))])
             for r in reports if r.error is not None]
    driver = om.ToolComponent(name="codeward", version=__version__, semantic_version=__version__, rules=rules)
    invocation = om.Invocation(execution_successful=not notes, tool_execution_notifications=notes or None)
    # findings count columns in code points; SARIF's default column kind is UTF-16 code units
    run = om.Run(tool=om.Tool(driver=driver), invocations=[invocation], column_kind="unicodeCodePoints",
                 results=[_result(path, f, order[f.rule_id]) for path, f in findings],
                 properties={"disabled_by_project": dict(disabled_by_project or {})})
    return om.SarifLog(schema_uri=SCHEMA_URI, version="2.1.0", runs=[run])


def render_sarif(reports: Sequence[FileReport], disabled_by_project: Mapping[str, Any] | None = None) -> str:
    """The review as SARIF 2.1.0 JSON text (serialised by jschema_to_python, as bandit does)."""
    from jschema_to_python.to_json import to_json

    return to_json(build_log(reports, disabled_by_project)) + "\n"
