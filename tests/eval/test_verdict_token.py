"""The verdict token: generic forgeries (scanning every descriptor for the token) never pass, and the known limit,
kept as a test that succeeds so the claim stays honest: the verdict token stops accidental and generic forgeries,
but a sample written against the runner's protocol can forge a pass (docs/security.md, Limits)."""

from __future__ import annotations

import pytest

from codeward.sandbox.isolation import ISOLATION_RLIMITS, Isolation, SandboxConfig
from codeward.sandbox.workers import SandboxPool

WRONG = "    return a - b\n"
# Read whatever every inherited descriptor holds (without blocking), echo it to every descriptor, and
# leave through os._exit(0) before the (failing) tests run.
SCAN_AND_ECHO = """import os
_got = b''
for _fd in range(3, 1024):
    try:
        os.set_blocking(_fd, False)
        _got += os.read(_fd, 64)
    except OSError:
        pass
for _fd in range(3, 1024):
    try:
        os.write(_fd, _got)
    except OSError:
        pass
os._exit(0)
"""
# The same, waiting briefly on each descriptor (poll) in case the token arrives late.
SCAN_POLL_AND_ECHO = """import os, select
_got = b''
for _fd in range(3, 1024):
    try:
        _p = select.poll()
        _p.register(_fd, select.POLLIN)
        if _p.poll(5):
            os.set_blocking(_fd, False)
            _got += os.read(_fd, 64)
    except OSError:
        pass
for _fd in range(3, 1024):
    try:
        os.write(_fd, _got)
    except OSError:
        pass
os._exit(0)
"""
# The known limit: a program that knows the runner's protocol finds its socket (the only one it holds), takes the
# runner's three steps itself (write R, read the token, echo it) and exits 0 before the (failing) tests run.
PROTOCOL_FORGERY = """import os, stat
for _fd in range(3, 1024):
    try:
        if stat.S_ISSOCK(os.fstat(_fd).st_mode):
            os.set_blocking(_fd, True)
            os.write(_fd, b'R')
            os.write(_fd, os.read(_fd, 64))
            os._exit(0)
    except OSError:
        pass
"""


def _isolations(bwrap_config: SandboxConfig) -> list[Isolation | None]:
    return [None, Isolation(ISOLATION_RLIMITS, None, "token test without bwrap")]


@pytest.mark.parametrize("attack", [SCAN_AND_ECHO, SCAN_POLL_AND_ECHO], ids=["nonblocking", "poll"])
def test_scanning_descriptors_for_the_token_does_not_pass(
    bwrap_config: SandboxConfig, make_program, attack: str
) -> None:
    """Wrong code that scans descriptors 3..1023 for the token, echoes it and exits 0 is not a pass, in
    bwrap and in the rlimits fallback; a right answer after it, in the same worker, still passes."""
    programs = [(0, make_program(WRONG + attack)), (1, make_program("    return a + b\n"))]
    for isolation in _isolations(bwrap_config):
        with SandboxPool(bwrap_config, workers=1, isolation=isolation) as pool:
            out = dict(pool.run(programs))
        assert not out[0].passed, (isolation, out[0])
        assert out[0].result.startswith("killed: "), out[0]
        assert out[1].result == "passed", out[1]


def test_known_limit_a_sample_written_against_the_protocol_forges_a_pass(
    bwrap_config: SandboxConfig, make_program
) -> None:
    """KNOWN LIMIT, not a bug to be fixed by editing this test: the verdict token stops accidental and generic
    forgeries, but a sample written against the runner's protocol can forge a pass. Wrong code that writes `R` to
    its verdict socket, reads the token and echoes it is graded `passed`, in bwrap and in the fallback, because
    the program shares its process with the runner (docs/security.md, Limits). If the tests ever run in a process
    the program cannot reach, this test fails: then turn it into a test that the attack fails, and change the
    sentence in forkserver.py, docs/security.md, docs/architecture.md and eval/demo.py."""
    programs = [(0, make_program(WRONG + PROTOCOL_FORGERY)), (1, make_program(WRONG))]
    for isolation in _isolations(bwrap_config):
        with SandboxPool(bwrap_config, workers=1, isolation=isolation) as pool:
            out = dict(pool.run(programs))
        assert out[0].result == "passed", (isolation, out[0])  # the forgery succeeds: the documented limit
        assert out[1].result == "failed: AssertionError", (isolation, out[1])  # the same code without it fails
