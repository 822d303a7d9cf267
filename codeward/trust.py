"""Which project config files codeward may read, and which of them the user trusts whole (direnv's `allow`).

A project file is looked for upward from the workspace; the walk stops at the repository root (a folder holding
`.git`) or at the user's home, whichever comes first. A file is never read when it or its folder can be written by
every user, or when it or its folder is owned by another user than you or root (root can change any file anyway).

The trust store, `$XDG_STATE_HOME/codeward/trust.json` (default `~/.local/state/codeward/trust.json`; 0600, written
atomically), maps a folder to its config file and that file's SHA-256: `{"version": 1, "folders": {"/abs/folder":
{"file": "/abs/folder/codeward.toml", "sha256": "...", "trusted_at": "2025-01-01T00:00:00+00:00"}}}`. A file whose
bytes changed since it was trusted is no longer trusted.

Also here: the user's own config file's path, `WEAKENING` (the project-settable keys that only weaken checks) and
`ConfigSources` (what the loader tells the user about a project file). Standard library only: `codeward.config`
imports this module and the settings leaves, nothing else of the project.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import shlex
import stat
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("codeward.config")

STORE_VERSION = 1
PROJECT_FILE_NAMES = ("codeward.toml", "pyproject.toml")  # nearest folder first; codeward.toml wins in a folder


class TrustError(Exception):
    """The trust store cannot be read or written; the message names the file and what to do."""


def state_dir() -> Path:
    """The user's state directory for codeward: `$XDG_STATE_HOME/codeward` (~/.local/state/codeward)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "codeward"


def store_path() -> Path:
    """Where the trust store lives: `$XDG_STATE_HOME/codeward/trust.json` (~/.local/state/codeward/trust.json)."""
    return state_dir() / "trust.json"


def user_config_file() -> Path:
    """The user's own config file: `$XDG_CONFIG_HOME/codeward/config.toml` (~/.config/codeward/config.toml)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "codeward" / "config.toml"


def digest(data: bytes) -> str:
    """The SHA-256 of a config file's bytes, as hex."""
    return hashlib.sha256(data).hexdigest()


def walk(start: Path, home: Path | None = None) -> Iterator[Path]:
    """The folders searched for a project file, nearest first: `start` up to the repository root (a folder with
    `.git`) or `home` (default: the user's home), both included; up to `/` when neither is on the way."""
    here = start.resolve()
    stop = (home if home is not None else Path.home()).resolve()
    for folder in (here, *here.parents):
        yield folder
        if folder == stop or (folder / ".git").exists():
            return


def unsafe(path: Path, uid: int | None = None) -> str | None:
    """Why the project file `path` must not be read (None when it may): it or its folder is writable by every
    user, or owned by another user than `uid` (default: you) or root. Symbolic links are followed."""
    me = os.getuid() if uid is None else uid
    real = path.resolve()
    for what, p in (("folder", real.parent), ("file", real)):
        st = p.stat()
        if st.st_mode & stat.S_IWOTH:
            return f"its {what} {p} is writable by every user"
        if st.st_uid not in (me, 0):
            return f"its {what} {p} is owned by another user (uid {st.st_uid})"
    return None


def load_store(path: Path | None = None) -> dict[str, dict[str, str]]:
    """The trusted folders: {folder: {"file", "sha256", "trusted_at"}}; empty when there is no store yet."""
    path = store_path() if path is None else path
    fix = "remove it and trust your folders again with `codeward trust PATH`"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise TrustError(f"cannot read the trust store {path}: {exc}; {fix}") from exc
    try:
        folders = json.loads(text)["folders"]
        if not isinstance(folders, dict) or not all(
                isinstance(e, dict) and isinstance(e.get("file"), str) and isinstance(e.get("sha256"), str)
                for e in folders.values()):
            raise TypeError("expected {\"folders\": {FOLDER: {\"file\": ..., \"sha256\": ...}}}")
    except (ValueError, KeyError, TypeError) as exc:
        raise TrustError(f"the trust store {path} is not valid ({exc}); {fix}") from exc
    return folders


def save_store(folders: dict[str, dict[str, str]], path: Path | None = None) -> None:
    """Write the trust store atomically (a 0600 temporary file renamed over the old one) in a 0700 folder."""
    path = store_path() if path is None else path
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".trust-", suffix=".json", dir=path.parent)  # mkstemp creates it 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"version": STORE_VERSION, "folders": folders}, out, indent=2, sort_keys=True)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise TrustError(f"cannot write the trust store {path}: {exc}; check that folder's permissions "
                         "(or set XDG_STATE_HOME to a folder you own)") from exc


def entry_state(config_file: Path, data: bytes, path: Path | None = None) -> str:
    """`trusted` when the store holds `config_file` (absolute) with these bytes' hash, `changed` when it holds the
    file with another hash, else `untrusted`."""
    entry = load_store(path).get(str(config_file.parent))
    if entry is None or entry["file"] != str(config_file):
        return "untrusted"
    return "trusted" if entry["sha256"] == digest(data) else "changed"


def add(config_file: Path, data: bytes, path: Path | None = None) -> dict[str, str]:
    """Trust `config_file` (absolute) with these bytes: the entry for its folder, replacing an older one."""
    folders = load_store(path)
    entry = {"file": str(config_file), "sha256": digest(data),
             "trusted_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}
    folders[str(config_file.parent)] = entry
    save_store(folders, path)
    return entry


def revoke(folder: Path, path: Path | None = None) -> bool:
    """Forget the trust of `folder` (absolute); False when it was not trusted."""
    folders = load_store(path)
    if folders.pop(str(folder), None) is None:
        return False
    save_store(folders, path)
    return True


# Project-settable keys that can only weaken the checks, with their values from strongest to weakest (None: a list
# whose added items weaken). A project file that weakens one is never silent: `review`, `doctor` and the server list it.
_ACTIONS = ("block", "warn", "allow")
_LEVELS = ("low", "medium", "high")
WEAKENING: dict[str, tuple[Any, ...] | None] = {
    "safety.enabled": (True, False), "safety.on_high": _ACTIONS, "safety.on_medium": _ACTIONS,
    "safety.on_low": _ACTIONS, "safety.on_error": _ACTIONS, "safety.on_bug_copy": _ACTIONS,
    "safety.min_severity": _LEVELS, "safety.min_confidence": _LEVELS, "safety.bandit_profile": ("all", "curated"),
    "safety.disabled_rules": None, "safety.pyflakes": (True, False), "safety.taint": (True, False),
    "safety.token_scan": (True, False), "context.diagnostics": (True, False),
}


def weakened(base: Any, now: Any, keys: Iterable[str]) -> dict[str, Any]:
    """The keys among `keys` (`section.key`) whose value in the settings `now` is weaker than in `base`: the value
    now, or for a list the items added."""
    out: dict[str, Any] = {}
    for dotted in keys:
        if dotted not in WEAKENING:
            continue
        section, key = dotted.split(".", 1)
        was, value = getattr(getattr(base, section), key), getattr(getattr(now, section), key)
        order = WEAKENING[dotted]
        if order is None:
            added = [item for item in value if item not in was]
            if added:
                out[dotted] = added
        elif value in order and was in order and order.index(value) > order.index(was):
            out[dotted] = value
    return out


@dataclass
class ConfigSources:
    """Where the settings came from and what the project file was not allowed to do, for messages and reports."""

    user_file: Path | None = None
    project_file: Path | None = None
    refused: str | None = None  # why the project file was not read at all
    trust: str = "untrusted"  # of the project file, when it sets `project = false` keys: trusted, changed, untrusted
    trust_error: str | None = None
    ignored: list[str] = field(default_factory=list)  # its `project = false` keys, ignored: folder not trusted
    weakened: dict[str, Any] = field(default_factory=dict)  # the checks it weakens (see WEAKENING)

    def notices(self) -> list[str]:
        """What the user must be told once (the settings still load): a refused file, ignored keys."""
        out = []
        if self.refused is not None:
            out.append(f"ignored the project config file {self.project_file}: {self.refused}; codeward reads a "
                       "project's config file only when you (or root) own it and its folder and no other user can "
                       "write to them")
        if self.ignored and self.project_file is not None:
            why = " (it changed since you trusted it)" if self.trust == "changed" else ""
            if self.trust_error:
                why += f" ({self.trust_error})"
            out.append(f"the project config file {self.project_file} sets {', '.join(self.ignored)}, ignored: "
                       "only a folder you trust may choose where code is sent, which secret or program is used, or "
                       f"the sandbox{why}. Review the file, then trust it with: "
                       f"codeward trust {shlex.quote(str(self.project_file.parent))}")
        return out

    def weakened_text(self) -> str:
        """`key = value` for every check the project file weakens, comma-separated ('' when none)."""
        return ", ".join(f"{k} = {v!r}" for k, v in self.weakened.items())


_TOLD: set[str] = set()


def tell(notices: Iterable[str]) -> None:
    """Log each notice as a warning, once per process (the command line prints it on stderr)."""
    for notice in notices:
        if notice not in _TOLD:
            _TOLD.add(notice)
            log.warning("%s", notice)
