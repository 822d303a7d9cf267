"""Where the taint engine's sinks are matched: which sink specs a call can be, and which of its values matters."""

from __future__ import annotations

import ast

from codeward.safety.findings import FlowStep
from codeward.safety.taint.specs import SINKS, SinkSpec
from codeward.safety.taint.values import Taint, dotted, first_of, keyword_true, safe_loader, stores_header

SINK_CALLS: dict[str, list[SinkSpec]] = {}
SINK_METHODS: dict[str, list[SinkSpec]] = {}
for _s in SINKS:
    for _n in _s.calls:
        SINK_CALLS.setdefault(_n, []).append(_s)
    for _n in _s.methods:
        SINK_METHODS.setdefault(_n, []).append(_s)
# constructors of HTTP client objects, whose request methods are server-side request sinks (CW207)
CLIENTS = frozenset({"requests.Session", "requests.session", "httpx.Client", "httpx.AsyncClient",
                     "aiohttp.ClientSession", "urllib3.PoolManager", "urllib3.HTTPConnectionPool"})


class SinkMatching:
    """The part of a scan that recognises sinks (mixed into the scan, which provides `expr`, `qualname`,
    `report_at` and `clients`)."""

    clients: set[str]

    def expr(self, e: ast.AST | None) -> Taint | None:
        raise NotImplementedError

    def qualname(self, node: ast.AST) -> str | None:
        raise NotImplementedError

    def report_at(self, sink: SinkSpec, t: Taint, step: FlowStep) -> None:
        raise NotImplementedError

    def sinks(self, e: ast.Call, qual: str | None, method: str | None, args: list[Taint | None],
              kwargs: dict[str | None, Taint | None], receiver: Taint | None) -> None:
        specs = list(SINK_CALLS.get(qual or "", ()))
        if method is not None and qual not in SINK_CALLS:
            specs += SINK_METHODS.get(method, [])
        for sink in specs:
            t = receiver if sink.when == "receiver" else self.sink_value(sink, e, args, kwargs)
            if t is not None:
                self.report_at(sink, t, FlowStep(e.lineno, e.col_offset, f"reaches {sink.what}: "
                                                 f"{qual or method}()"))

    def sink_value(self, sink: SinkSpec, e: ast.Call, args: list[Taint | None],
                   kwargs: dict[str | None, Taint | None]) -> Taint | None:
        if sink.when == "shell" and not keyword_true(e, "shell"):
            return None
        if sink.when == "headers" and not (isinstance(e.func, ast.Attribute) and stores_header(e.func.value)):
            return None
        if sink.when == "client" and not (isinstance(e.func, ast.Attribute) and
                                          (dotted(e.func.value) or "") in self.clients):
            return None
        if sink.when == "unsafe_yaml" and self.qualname(e.func) in ("yaml.load", "yaml.load_all") and \
                safe_loader(e):
            return None
        if sink.when == "argv0":
            first = e.args[0] if e.args else next((k.value for k in e.keywords if k.arg == "args"), None)
            if isinstance(first, (ast.List, ast.Tuple)) and first.elts:
                return self.expr(first.elts[0])
            return None if keyword_true(e, "shell") else (args[0] if args and args[0] is not None and
                                                           not isinstance(first, ast.Constant) else None)
        if sink.arg is None:
            return first_of(*args, *kwargs.values())
        value = args[sink.arg] if sink.arg < len(args) else None
        return value or (kwargs.get(sink.keyword) if sink.keyword else None)
