"""`codeward serve`: the language server over stdio (default) or TCP."""

from __future__ import annotations

import argparse
import errno
import ipaddress
import json
import socket
import sys
from typing import Any

from codeward.flags import add_engine_flags, die, engine_overrides, settings_from_args
from codeward.lsp_server.daemon import IDLE_TIMEOUT_S


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the language server (LSP over stdio, one per-user server with --daemon, or TCP with --tcp)",
                       description="Run codeward's language server: inline completions checked by the safety "
                       "layer. Engine flags override the editor's settings, the environment and your and the project's "
                       "config files.")
    p.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio (e.g. 127.0.0.1:2087); "
                   "serves one editor session at a time until SIGINT/SIGTERM; prints the path of a 0600 token file whose "
                   "content clients send as initializationOptions.codeward_token")
    p.add_argument("--allow-remote", action="store_true", help="with --tcp: allow an address other machines can "
                   "reach (0.0.0.0, a LAN address); clients still need the token, and nothing is encrypted")
    p.add_argument("--stdio", action="store_true", help="use stdio (the default; accepted for editors that pass it)")
    p.add_argument("--daemon", action="store_true", help="share one per-user server (one loaded model) among "
                   "editor windows: relay stdio to it over a private Unix socket, starting it if none runs; engine "
                   "flags apply when this call starts it")
    p.add_argument("--idle-timeout", type=float, default=IDLE_TIMEOUT_S, metavar="SECONDS",
                   help=f"with --daemon: the per-user server stops after this long without a session "
                   f"(default {IDLE_TIMEOUT_S:.0f})")
    p.add_argument("--debug-prompts", action="store_true", help="add the last prompt and suggestions (your code) to "
                   "codeward/stats, for tests and the demo; stdio and --daemon only (with --daemon: when this call "
                   "starts the per-user server)")
    p.add_argument("--daemon-server", action="store_true", help=argparse.SUPPRESS)  # the server --daemon starts
    p.add_argument("--daemon-overrides", default="{}", help=argparse.SUPPRESS)  # its engine flags, as JSON
    add_engine_flags(p)
    p.set_defaults(func=run)


def parse_address(text: str) -> tuple[str, int]:
    """HOST:PORT (HOST may be empty for loopback); ValueError with a message the user can act on."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--tcp {text!r}: expected HOST:PORT with a port between 1 and 65535, "
                         "e.g. 127.0.0.1:2087")
    return host.strip("[]") or "127.0.0.1", int(port)


def listen_problem(host: str, port: int, exc: OSError) -> str:
    """One line saying why host:port cannot be listened on and what to do."""
    where = f"cannot listen on {host}:{port}"
    if isinstance(exc, socket.gaierror):
        return (f"{where}: cannot resolve host {host!r} ({exc.strerror}); give an IP address such as 127.0.0.1 "
                "or a host name this machine resolves")
    if exc.errno == errno.EADDRINUSE:
        return (f"{where}: the address is already in use; stop the process listening there (another codeward "
                "serve?) or choose another port")
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{where}: the address is not one of this machine's; use 127.0.0.1 or an address of this machine"
    if exc.errno == errno.EACCES:
        return f"{where}: permission denied; use a port above 1023"
    return f"{where}: {exc.strerror or exc}; check the --tcp address"


def reaches_beyond(host: str) -> bool:
    """Whether listening on `host` may accept connections from other machines (not only loopback); False for a
    name that does not resolve (listening then says so)."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    return any(not ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)


def tcp_address(args: argparse.Namespace) -> tuple[str, int] | None:
    """The --tcp address, checked against the flags that go with it (None without --tcp); exits 2 on a problem."""
    if not args.tcp:
        if args.allow_remote:
            die("--allow-remote applies only to --tcp HOST:PORT")
        return None
    try:
        host, port = parse_address(args.tcp)
    except ValueError as exc:
        die(str(exc))
    if args.debug_prompts:
        die("--debug-prompts cannot be used with --tcp: codeward/stats would hand your code to any TCP client; use "
            "it over stdio or with --daemon")
    if reaches_beyond(host):
        if not args.allow_remote:
            die(f"--tcp {args.tcp}: {host} can be reached from other machines; listen on 127.0.0.1 (and use an SSH "
                "tunnel from elsewhere), or add --allow-remote if you mean it")
        print(f"codeward: warning: listening on {host}, reachable from other machines: clients need the token, "
              "but the connection is not encrypted (the token and your code cross the network in clear)",
              file=sys.stderr, flush=True)
    return host, port


def run(args: argparse.Namespace) -> int:
    from codeward.lsp_server.runtime import RuntimeDirError
    from codeward.lsp_server.server import build_server
    from codeward.lsp_server.tcp import ListenError, serve_tcp

    address = tcp_address(args)
    settings_from_args(args)  # a bad flag or codeward.toml stops here with a clear message (exit 2)
    overrides = engine_overrides(args)
    if args.daemon or args.daemon_server:
        if address is not None:
            die("--daemon and --tcp exclude each other: the per-user server listens on a Unix socket")
        return run_daemon(args, overrides)
    if address is None:
        build_server(cli_overrides=overrides, debug_prompts=args.debug_prompts).start_io()
        return 0
    try:  # each session gets a fresh server; `exit` ends the session, SIGINT/SIGTERM the process
        serve_tcp(lambda: build_server(cli_overrides=overrides), *address)
    except ListenError as exc:
        die(listen_problem(exc.host, exc.port, exc.cause))
    except RuntimeDirError as exc:  # the token file's folder
        die(str(exc))
    return 0


def run_daemon(args: argparse.Namespace, overrides: dict[str, Any]) -> int:
    """`--daemon`: relay this editor's stdio to the per-user server (started if absent); `--daemon-server`: be it."""
    from codeward.lsp_server import daemon
    from codeward.lsp_server.runtime import RuntimeDirError, open_runtime_dir

    if args.idle_timeout <= 0:
        die(f"--idle-timeout {args.idle_timeout}: give a number of seconds above 0")
    try:
        folder = open_runtime_dir()
        if args.daemon_server:
            from codeward.lsp_server.engines import EnginePool
            from codeward.lsp_server.server import build_server
            from codeward.model.factory import make_engine

            overrides = {**json.loads(args.daemon_overrides), **overrides}
            pool = EnginePool(make_engine)
            daemon.serve_daemon(lambda: build_server(engine_factory=pool, cli_overrides=overrides,
                                                     debug_prompts=args.debug_prompts), folder,
                                args.idle_timeout, lambda: {"engines_loaded": pool.loads, "engines": pool.loaded()})
            return 0
        command = [sys.executable, "-m", "codeward", "serve", "--daemon-server", "--idle-timeout",
                   str(args.idle_timeout), "--daemon-overrides", json.dumps(overrides, default=str),
                   *(["--debug-prompts"] if args.debug_prompts else [])]
        daemon.relay(daemon.connect_or_start(folder, command))
    except RuntimeDirError as exc:  # the daemon's own errors (DaemonError) included
        die(str(exc))
    return 0
