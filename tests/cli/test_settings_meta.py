"""Settings metadata (issue 34): every field declares `tier` and `project`; the VS Code settings UI stays small, and a
key a project may not set is read from the user's own VS Code settings only."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from codeward.cli import vscode
from codeward.config import SECTIONS, TIERS, metadata_problems


def _ui() -> dict:
    return json.loads(vscode.PACKAGE.read_text(encoding="utf-8"))["contributes"]["configuration"]["properties"]


def test_every_field_of_every_section_declares_tier_and_project():
    assert set(SECTIONS) == {"engine", "completion", "context", "safety", "eval"}
    assert metadata_problems() == []


def test_the_checker_flags_missing_wrong_and_misplaced_metadata():
    @dataclass
    class Bad:
        bare: int = field(default=1, metadata={"help": "no tier, no project"})
        odd: str = field(default="", metadata={"tier": "expert", "project": "yes"})
        scalar_add_only: int = field(default=0, metadata={"tier": "user", "project": True, "project_add_only": True})
        closed_add_only: list[str] = field(default_factory=list, metadata={
            "tier": "advanced", "project": False, "project_add_only": True})
        fine: list[str] = field(default_factory=list, metadata={
            "tier": "advanced", "project": True, "project_add_only": True})

    problems = metadata_problems({"bad": Bad})
    assert len(problems) == 6, problems
    assert [p.split(":")[0] for p in problems] == ["bad.bare", "bad.bare", "bad.odd", "bad.odd",
                                                   "bad.scalar_add_only", "bad.closed_add_only"]
    assert "expected one of " + ", ".join(TIERS) in problems[2]


def test_keys_that_choose_what_runs_or_where_data_goes_are_not_project_settable():
    closed = {f"{s}.{f}" for s, cls in SECTIONS.items() for f, v in cls.__dataclass_fields__.items()
              if not v.metadata["project"]}
    assert {"engine.model", "engine.model_dir", "engine.base_url", "engine.api_key_env", "engine.draft_model",
            "eval.sandbox", "eval.sandbox_python", "eval.sandbox_python_path",
            "eval.sandbox_allow_subprocesses", "eval.sandbox_memory_mb"} <= closed
    # checks a project may only weaken stay settable (the trust issue lists them where a project sets them)
    assert not closed & {"safety.disabled_rules", "safety.min_severity", "safety.on_high", "safety.enabled"}


def test_the_vscode_settings_ui_holds_at_most_17_settings():
    props = _ui()
    assert len(props) <= 17, sorted(props)  # the bound, whatever vscode.MAX_UI_SETTINGS says
    assert vscode.ADVANCED in props
    user = {f"codeward.{s}.{vscode.camel(n)}" for s in vscode.SERVER_SECTIONS
            for n, v in SECTIONS[s].__dataclass_fields__.items() if v.metadata["tier"] == "user"}
    assert set(props) == user | set(vscode.CLIENT) | {vscode.ADVANCED}


def _scope_problems(props: dict) -> list[str]:
    """Contributed keys whose machine scope disagrees with their `project` flag (or that are not contributed)."""
    advanced = props[vscode.ADVANCED]["properties"]
    problems = []
    for section in vscode.SERVER_SECTIONS:
        for name, f in SECTIONS[section].__dataclass_fields__.items():
            entry = props.get(f"codeward.{section}.{vscode.camel(name)}") or advanced.get(f"{section}.{name}")
            if entry is None or (entry.get("scope") == "machine") != (f.metadata["project"] is False):
                problems.append(f"{section}.{name}")
    if props["codeward.client.serverPath"].get("scope") != "machine":  # it chooses the program that runs
        problems.append("client.serverPath")
    return problems


def test_every_contributed_key_a_project_may_not_set_has_machine_scope():
    assert _scope_problems(_ui()) == []


def test_the_machine_scope_check_can_fail():
    props = json.loads(json.dumps(_ui()))
    del props["codeward.engine.model"]["scope"]
    del props[vscode.ADVANCED]["properties"]["engine.model_dir"]["scope"]
    props[vscode.ADVANCED]["properties"]["engine.n_ctx"]["scope"] = "machine"
    del props["codeward.client.serverPath"]["scope"]
    assert _scope_problems(props) == ["engine.model", "engine.model_dir", "engine.n_ctx", "client.serverPath"]
