"""The run folder every eval command writes (DESIGN.md): config.json, samples.jsonl, exec.jsonl,
results.json, report.md; created fresh, or resumed only when the configuration is unchanged."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from codeward.eval.jsonl import JsonlAppender, read_rows

CONFIG = "config.json"
SAMPLES = "samples.jsonl"
EXEC = "exec.jsonl"
RESULTS = "results.json"
REPORT = "report.md"
VOLATILE_KEY = "run"  # config.json's bookkeeping (times, worker count): not compared on --resume


class RunFolderError(ValueError):
    """The output folder cannot be used as asked (exists, or --resume with a different configuration)."""


def default_out(command: str, root: str | Path = "runs") -> Path:
    """`runs/<YYYYmmdd-HHMMSS>-<command>/`."""
    return Path(root) / f"{time.strftime('%Y%m%d-%H%M%S')}-{command}"


def _canonical(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new)):
            out += _differences(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else str(key))
        return out
    return [] if old == new else [f"{prefix}: {old!r} -> {new!r}"]


class RunFolder:
    """One run's output folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def open(
        cls,
        out: str | None,
        command: str,
        config: dict[str, Any],
        *,
        resume: bool,
        volatile: dict[str, Any] | None = None,
    ) -> RunFolder:
        """Create a new run folder, or reopen one for --resume after checking config.json matches."""
        if resume and not out:
            raise RunFolderError("--resume needs --out DIR naming the run folder to continue")
        path = Path(out) if out else default_out(command)
        folder = cls(path)
        config = _canonical({k: v for k, v in config.items() if k != VOLATILE_KEY})
        now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        if resume:
            old = folder.read_config()
            diffs = _differences({k: v for k, v in old.items() if k != VOLATILE_KEY}, config)
            if diffs:
                raise RunFolderError(
                    f"{path / CONFIG} differs from this run's settings, so --resume would mix "
                    "two configurations: "
                    + "; ".join(diffs[:8])
                    + ". Rerun with the original settings, or start a new --out folder."
                )
            run = dict(old.get(VOLATILE_KEY) or {})
            run.setdefault("resumed_at", []).append(now)
        else:
            if path.exists() and any(path.iterdir()):
                raise RunFolderError(
                    f"{path} already exists and is not empty; pass --resume to continue that "
                    "run, or choose another --out folder"
                )
            path.mkdir(parents=True, exist_ok=True)
            run = {"created_at": now}
        run.update(volatile or {})
        folder.write_json(CONFIG, {**config, VOLATILE_KEY: run})
        return folder

    def file(self, name: str) -> Path:
        """Path of a file in the folder."""
        return self.path / name

    def read_config(self) -> dict[str, Any]:
        """config.json of an existing run."""
        p = self.file(CONFIG)
        if not p.is_file():
            raise RunFolderError(
                f"{self.path} is not a run folder (no {CONFIG}); --resume needs the --out "
                "folder of an earlier run"
            )
        try:
            return json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise RunFolderError(f"{p} is not valid JSON ({exc}); the run folder is damaged") from None

    def write_json(self, name: str, value: Any) -> None:
        """Write a JSON file atomically (temporary file + rename)."""
        self.write_text(name, json.dumps(value, indent=2, sort_keys=False, allow_nan=False) + "\n")

    def write_text(self, name: str, text: str) -> None:
        """Write a text file atomically (temporary file + rename)."""
        target = self.file(name)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)

    def appender(self, name: str) -> JsonlAppender:
        """An append-only writer for a JSONL file of this run."""
        return JsonlAppender(self.file(name))

    def rows(self, name: str) -> list[dict[str, Any]]:
        """Rows of a JSONL file of this run, after cutting a torn last line left by a killed run."""
        return read_rows(self.file(name), repair=True)
