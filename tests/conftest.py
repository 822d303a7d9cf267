"""Fixtures shared by the whole suite: the test model (SmolLM2-135M) is loaded once per test session.

The machinery tests run on SmolLM2 (fast); every command and server a test starts inherits
CODEWARD_ENGINE_MODEL=smollm2-135m, and XDG_STATE_HOME pointing at a temporary folder. Tests of quality and of the defaults name the default model themselves.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
TEST_MODEL = "smollm2-135m"
os.environ["CODEWARD_ENGINE_MODEL"] = TEST_MODEL
# Servers the tests start write their stats log at shutdown: into a folder of this test session, not the user's.
STATE_HOME = Path(tempfile.mkdtemp(prefix="codeward-test-state-"))
os.environ["XDG_STATE_HOME"] = str(STATE_HOME)


@pytest.fixture(scope="session")
def llama_engine():
    """The llamacpp engine on the test model SmolLM2-135M (all cores, small context)."""
    from codeward.model.llamacpp.engine import LlamaCppEngine
    from codeward.model.settings import EngineSettings

    engine = LlamaCppEngine(EngineSettings(engine="llamacpp", model=TEST_MODEL, n_ctx=2048))
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only data sets beside the checkout (../shared/data)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"data sets not found at {SHARED_DATA}: the tests read ../shared/data beside the checkout")
    return SHARED_DATA
