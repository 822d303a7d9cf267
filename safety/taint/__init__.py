"""Taint flows in one file: sources, sanitisers and sinks as data (`sources`, `specs`), how sinks are matched
(`sinks`), the engine's vocabulary (`values`) and the flow analysis itself (`flows`)."""
