"""`codeward serve`: the language server over stdio (default) or TCP."""

from __future__ import annotations

import argparse

from codeward.cli_common import add_engine_flags, die, engine_overrides, settings_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the language server (LSP over stdio, or TCP with --tcp)",
                       description="Run codeward's language server: inline completions checked by the safety "
                       "layer. Engine flags override the settings from codeward.toml, the environment and the "
                       "editor.")
    p.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio (e.g. 127.0.0.1:2087)")
    p.add_argument("--stdio", action="store_true", help="use stdio (the default; accepted for editors that pass it)")
    add_engine_flags(p)
    p.set_defaults(func=run)


def parse_address(text: str) -> tuple[str, int]:
    """HOST:PORT (HOST may be empty for loopback); ValueError with a message the user can act on."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--tcp {text!r}: expected HOST:PORT with a port between 1 and 65535, "
                         "e.g. 127.0.0.1:2087")
    return host.strip("[]") or "127.0.0.1", int(port)


def run(args: argparse.Namespace) -> int:
    from codeward.lsp_server.server import build_server

    address = None
    if args.tcp:
        try:
            address = parse_address(args.tcp)
        except ValueError as exc:
            die(str(exc))
    settings_from_args(args)  # a bad flag or codeward.toml stops here with a clear message (exit 2)
    server = build_server(cli_overrides=engine_overrides(args))
    if address is None:
        server.start_io()
    else:
        server.start_tcp(*address)
    return 0
