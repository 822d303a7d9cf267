"""The user's private runtime folder and who is at the other end of a local socket.

The folder holds the per-user server's socket and start lock and the TCP token: `$CODEWARD_RUNTIME_DIR`, else
`$XDG_RUNTIME_DIR/codeward`, else `/tmp/codeward-UID`. In a shared `/tmp` another user could create that name
first (a link to a folder of theirs, or a file), so the folder is opened once without following a link
(`lstat`, `O_NOFOLLOW`), checked through its descriptor (yours, mode 0700), and every name in it is reached
through that descriptor: nobody can swap the folder between the check and its use.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class RuntimeDirError(RuntimeError):
    """The runtime folder, a file in it or the peer of its socket is not safe to use; the message says what to do."""


def runtime_path() -> Path:
    """Where the runtime folder is: $CODEWARD_RUNTIME_DIR, $XDG_RUNTIME_DIR/codeward or /tmp/codeward-UID."""
    if os.environ.get("CODEWARD_RUNTIME_DIR"):
        return Path(os.environ["CODEWARD_RUNTIME_DIR"])
    if os.environ.get("XDG_RUNTIME_DIR"):
        return Path(os.environ["XDG_RUNTIME_DIR"]) / "codeward"
    return Path("/tmp") / f"codeward-{os.getuid()}"


def _squatted(folder: Path, info: os.stat_result) -> RuntimeDirError | None:
    """Why `folder` (as lstat saw it) is not a folder codeward may use, or None."""
    fix = f"remove it (`rm {folder}`) if you did not make it, or set CODEWARD_RUNTIME_DIR to a private folder"
    if stat.S_ISLNK(info.st_mode):
        return RuntimeDirError(f"the runtime folder {folder} is a symbolic link (another user may have planted it "
                               f"to receive your socket or token); codeward does not follow it: {fix}")
    if not stat.S_ISDIR(info.st_mode):
        return RuntimeDirError(f"the runtime folder {folder} is a file, not a folder (another user may have put it "
                               f"there); {fix}")
    return None


@dataclass
class RuntimeDir:
    """The opened runtime folder: `path` for messages, `fd` for every use."""

    path: Path
    fd: int

    def entry(self, name: str) -> str:
        """A path to `name` that resolves through the opened folder (for socket calls, which take no dir_fd)."""
        through = f"/proc/self/fd/{self.fd}"
        return f"{through}/{name}" if os.path.isdir(through) else str(self.path / name)

    def open_lock(self, name: str) -> int:
        """The descriptor of lock file `name`, created 0600 if absent; never follows a link, never truncates."""
        try:
            fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=self.fd)
        except OSError as exc:
            why = "is a symbolic link" if exc.errno == errno.ELOOP else exc.strerror or str(exc)
            raise RuntimeDirError(f"cannot open the lock file {self.path / name}: {why}; remove it "
                                  f"(`rm {self.path / name}`) and try again") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            os.close(fd)
            raise RuntimeDirError(f"the lock file {self.path / name} is not a regular file of yours; remove it "
                                  f"(`rm {self.path / name}`) and try again")
        return fd

    def write_secret(self, name: str, text: str) -> Path:
        """Write `text` to a fresh file `name`, mode 0600 from its creation (an old one is replaced); its path."""
        self.remove(name)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(name, flags, 0o600, dir_fd=self.fd)
        except OSError as exc:
            raise RuntimeDirError(f"cannot write {self.path / name}: {exc.strerror or exc}; check the runtime "
                                  "folder or set CODEWARD_RUNTIME_DIR") from None
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text + "\n")
        return self.path / name

    def remove(self, name: str) -> None:
        """Remove `name` from the folder (the name itself, never what a link points to); absent is fine."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=self.fd)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def open_runtime_dir(folder: Path | None = None) -> RuntimeDir:
    """Create (0700) or open the runtime folder without following a link; RuntimeDirError when it is a link, a
    file, another user's or open to others."""
    folder = runtime_path() if folder is None else folder
    if not folder.parent.exists():  # $CODEWARD_RUNTIME_DIR may name a folder whose parents are to be made
        folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.mkdir(folder, 0o700)
    problem = _squatted(folder, os.lstat(folder))
    if problem is not None:
        raise problem
    try:
        fd = os.open(folder, _DIR_FLAGS)
    except OSError as exc:  # swapped for a link or a file since the lstat
        raise _squatted(folder, os.lstat(folder)) or RuntimeDirError(
            f"cannot open the runtime folder {folder}: {exc.strerror or exc}; set CODEWARD_RUNTIME_DIR to a "
            "private folder") from None
    info = os.fstat(fd)
    if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
        os.close(fd)
        raise RuntimeDirError(f"{folder} must belong to you and be private (mode 0700): another user could talk to "
                              f"your codeward server; fix it with `chmod 700 {folder}` or set CODEWARD_RUNTIME_DIR")
    return RuntimeDir(folder, fd)


def peer_uid(sock: socket.socket) -> int | None:
    """The user id of the process at the other end of a Unix socket (SO_PEERCRED); None where the platform
    cannot say (the folder's mode 0700 then is the only guard)."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    size = struct.calcsize("3i")
    _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, option, size))
    return uid


def require_peer(sock: socket.socket, what: str, uid: int | None = None) -> None:
    """RuntimeDirError unless the peer of `sock` runs as `uid` (default: you); `what` names the peer."""
    expected = os.getuid() if uid is None else uid
    found = peer_uid(sock)
    if found is not None and found != expected:
        raise RuntimeDirError(f"{what} runs as uid {found}, not as you (uid {expected}): another user's process "
                              "holds codeward's socket; stop it or set CODEWARD_RUNTIME_DIR to a private folder")
