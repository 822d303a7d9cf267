"""Fixtures shared by the whole suite: the embedded model is loaded once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def llama_engine():
    """The llamacpp engine on the embedded SmolLM2 model (2 threads, small context)."""
    from codeward.model.llamacpp import LlamaCppEngine
    from codeward.model.settings import EngineSettings

    engine = LlamaCppEngine(EngineSettings(engine="llamacpp", model="embedded", n_ctx=2048))
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only data sets beside the checkout (../shared/data)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"data sets not found at {SHARED_DATA}: the tests read ../shared/data beside the checkout")
    return SHARED_DATA
