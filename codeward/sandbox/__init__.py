"""Isolated execution of user and model code: bwrap + rlimits set-up on the host (`isolation`), the fork
server that runs inside the sandbox (`forkserver`) and the worker pool that drives it (`workers`).

Small enough to audit alone. Values cross the boundary as size-capped JSON, never unpickled on the host. Used by the
eval suite, the diagnostics and the pipeline; imports nothing of the project above `model` and `safety`.
"""
