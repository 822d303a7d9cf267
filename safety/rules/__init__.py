"""codeward's own checks (ids CW1xx): libcst visitors that carry their VALID/INVALID examples (the Fixit way).

A rule subclasses `Rule`, sets its class attributes (its `kind` among them: bug, subtle or security) and calls
`self.report(node)`; subclasses register themselves by id. `run_rules` runs every enabled rule in one batched pass
over the tree; `rules_of_kind` is how a check picks its rules (by what they look for, never by module).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from typing import ClassVar

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from codeward.safety.findings import KINDS, Finding

log = logging.getLogger(__name__)

RULES: dict[str, type[Rule]] = {}


class Rule:
    """Base class of the CW rules: `visit_<Node>` / `leave_<Node>` methods like a libcst visitor, examples,
    and `report`. Positions are resolved only for reported nodes, after the pass."""

    id: ClassVar[str]
    kind: ClassVar[str]  # one of findings.KINDS, declared by every rule on itself
    cwe: ClassVar[int | None] = None
    severity: ClassVar[str] = "medium"
    confidence: ClassVar[str] = "high"
    message: ClassVar[str]
    VALID: ClassVar[tuple[str, ...]] = ()
    INVALID: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "id" in cls.__dict__:
            if cls.id in RULES:
                raise ValueError(f"duplicate codeward rule id {cls.id}: {RULES[cls.id].__name__} and "
                                 f"{cls.__name__}; give the new rule an unused CW id")
            if getattr(cls, "kind", None) not in KINDS:
                raise ValueError(f"codeward rule {cls.id} ({cls.__name__}) declares kind "
                                 f"{getattr(cls, 'kind', None)!r}; set kind to one of {', '.join(KINDS)}")
            RULES[cls.id] = cls

    def __init__(self) -> None:
        self.reported: list[tuple[cst.CSTNode, str]] = []

    def report(self, node: cst.CSTNode, message: str | None = None) -> None:
        """Record a finding at `node`."""
        self.reported.append((node, message or self.message))


@functools.cache
def _hooks(cls: type[Rule]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Node type names a rule class visits and leaves (cached: inspecting classes per call is slow)."""
    names = [n for n in dir(cls) if n.startswith(("visit_", "leave_")) and callable(getattr(cls, n))]
    return (tuple(n[6:] for n in names if n.startswith("visit_")),
            tuple(n[6:] for n in names if n.startswith("leave_")))


class _Dispatch(cst.CSTVisitor):
    """One pass over the tree that calls every rule's hooks for each node type."""

    def __init__(self, rules: list[Rule]) -> None:
        super().__init__()
        self.visits: dict[str, list[Callable[[cst.CSTNode], object]]] = {}
        self.leaves: dict[str, list[Callable[[cst.CSTNode], object]]] = {}
        for rule in rules:
            visits, leaves = _hooks(type(rule))
            for name in visits:
                self.visits.setdefault(name, []).append(getattr(rule, "visit_" + name))
            for name in leaves:
                self.leaves.setdefault(name, []).append(getattr(rule, "leave_" + name))

    def on_visit(self, node: cst.CSTNode) -> bool:
        for hook in self.visits.get(type(node).__name__, ()):
            hook(node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        for hook in self.leaves.get(type(original_node).__name__, ()):
            hook(original_node)


def _load_rule_modules() -> None:
    """Import the modules that define rules (they register on import)."""
    from codeward.safety.rules import bugs, crypto, security, subtle, tls_xml  # noqa: F401


def rules_of_kind(kinds: Iterable[str]) -> frozenset[str]:
    """The ids of the CW rules whose `kind` is one of `kinds` (read from the classes on each call)."""
    wanted = frozenset(kinds)
    return frozenset(rid for rid, cls in all_rules().items() if cls.kind in wanted)


def all_rules() -> dict[str, type[Rule]]:
    """Every registered CW rule by id, in id order."""
    _load_rule_modules()
    return dict(sorted(RULES.items()))


def parse_module(source: str) -> cst.Module | None:
    """libcst's parse of `source`, or None (logged) when libcst cannot parse it."""
    try:
        return cst.parse_module(source)
    except (cst.ParserSyntaxError, RecursionError, ValueError) as exc:
        log.debug("libcst cannot parse the text (%s); CW rules skipped", str(exc).splitlines()[0])
        return None


def run_rules(source: str, disabled: Iterable[str] = (), offset: int = 0,
              module: cst.Module | None = None) -> list[Finding]:
    """All enabled CW rules' findings on `source`, lines shifted up by `offset`."""
    off = {r.upper() for r in disabled}
    rules = [cls() for rid, cls in all_rules().items() if rid not in off]
    module = module if module is not None else parse_module(source)
    if module is None or not rules:
        return []
    module.visit(_Dispatch(rules))
    if not any(rule.reported for rule in rules):
        return []
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    out = []
    for rule in rules:
        for node, message in rule.reported:
            pos = positions[node]
            out.append(Finding(rule.id, rule.cwe, rule.severity, rule.confidence, pos.start.line - offset,
                               pos.end.line - offset, pos.start.column, message, "libcst", kind=rule.kind))
    return out
