"""The `codeward eval` sub-commands, one module each with `register(subparsers)`, and what they share
(`common`: the run folder and the sandbox; `sampling`: sampling a model)."""
