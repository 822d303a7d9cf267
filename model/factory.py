"""Build the engine a settings section asks for; heavy backends are imported only when chosen."""

from __future__ import annotations

from codeward.model.base import Engine, EngineError
from codeward.model.settings import EngineSettings


def make_engine(settings: EngineSettings) -> Engine:
    """The engine named by `settings.engine`, loaded with `settings.model`."""
    if settings.engine == "llamacpp":
        from codeward.model.llamacpp.engine import LlamaCppEngine

        return LlamaCppEngine(settings)
    if settings.engine == "transformers":
        from codeward.model.transformers.engine import TransformersEngine

        return TransformersEngine(settings)
    if settings.engine == "openai":
        from codeward.model.openai.engine import OpenAIEngine

        return OpenAIEngine(settings)
    raise EngineError(f"unknown engine {settings.engine!r}; choose llamacpp, transformers or openai")
