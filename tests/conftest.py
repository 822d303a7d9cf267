"""Fixtures shared by the whole suite: the test model (SmolLM2-135M) is loaded once per test session.

The machinery tests run on SmolLM2 (fast); every command and server a test starts inherits
CODEWARD_ENGINE_MODEL=smollm2-135m, and XDG_STATE_HOME pointing at a temporary folder. Tests of quality and of the
defaults name the default model themselves.

Data sets outside the repository are found through CODEWARD_DATA (default: ../shared/data beside the checkout, when
it exists). A test whose data set is missing skips, naming the variable, so `make test` passes on a bare clone;
with CODEWARD_REQUIRE_DATA=1 (set by .ci/run) it fails instead.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA_VARIABLE = "CODEWARD_DATA"
REQUIRE_VARIABLE = "CODEWARD_REQUIRE_DATA"
TEST_MODEL = "smollm2-135m"
os.environ["CODEWARD_ENGINE_MODEL"] = TEST_MODEL
# Servers the tests start write their stats log at shutdown: into a folder of this test session, not the user's.
STATE_HOME = Path(tempfile.mkdtemp(prefix="codeward-test-state-"))
os.environ["XDG_STATE_HOME"] = str(STATE_HOME)
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="codeward-test-config-")  # no user config.toml leaks in


@pytest.fixture(scope="session")
def llama_engine():
    """The llamacpp engine on the test model SmolLM2-135M (all cores, small context)."""
    from codeward.model.llamacpp.engine import LlamaCppEngine
    from codeward.model.settings import EngineSettings

    engine = LlamaCppEngine(EngineSettings(engine="llamacpp", model=TEST_MODEL, n_ctx=2048))
    yield engine
    engine.close()


def data_root() -> Path:
    """Where the data sets are: $CODEWARD_DATA, else ../shared/data beside the checkout."""
    given = os.environ.get(DATA_VARIABLE, "").strip()
    return Path(given).expanduser() if given else REPO.parent / "shared" / "data"


def missing_data(path: Path) -> None:
    """Skip (or, under CODEWARD_REQUIRE_DATA=1, fail) the test that needs the data set at `path`."""
    source = f"${DATA_VARIABLE}" if os.environ.get(DATA_VARIABLE, "").strip() else \
        f"the default ../shared/data (set {DATA_VARIABLE} to the folder that holds the data sets)"
    message = f"data set not found: {path} (looked under {source})"
    if os.environ.get(REQUIRE_VARIABLE, "").strip() == "1":
        pytest.fail(f"{message}; {REQUIRE_VARIABLE}=1 requires it")
    pytest.skip(message)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of the read-only data sets (skips, or fails under CODEWARD_REQUIRE_DATA=1, when it is missing)."""
    root = data_root()
    if not root.is_dir():
        missing_data(root)
    return root


@pytest.fixture(scope="session")
def data_set(shared_data: Path) -> Callable[..., Path]:
    """`data_set("cyberseceval", "autocomplete-python.jsonl")`: that data set's path, or the test skips (fails
    under CODEWARD_REQUIRE_DATA=1) naming it."""
    def find(*parts: str) -> Path:
        path = shared_data.joinpath(*parts)
        if not path.exists():
            missing_data(path)
        return path
    return find
