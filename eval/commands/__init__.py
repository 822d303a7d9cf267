"""The `codeward eval` sub-commands, one module each with `register(subparsers)`, and what they share
(`common`: the run folder and the sandbox; `sampling`: sampling a model)."""

# The help epilogs that say where each command's sampling settings come from (DESIGN.md: eval defaults).
SAMPLING_PRECEDENCE = (
    "sampling (temperature, top_p, n, max new tokens, template, seed, stop preset) follows one precedence: flags > "
    "environment (CODEWARD_EVAL_TEMPERATURE, CODEWARD_EVAL_TOP_P, CODEWARD_EVAL_N, CODEWARD_EVAL_MAX_NEW_TOKENS, "
    "CODEWARD_EVAL_TEMPLATE, ...) > [eval] in your ~/.config/codeward/config.toml > [eval] in the project's "
    "codeward.toml > defaults (the editor's [engine] settings do not apply)")
EDITOR_SAMPLING = (
    "sampling follows the editor's own settings on purpose, since this command measures the editor: "
    "[engine] temperature, top_p, n, max_new_tokens, template and [completion] stop_preset (flags > environment "
    "CODEWARD_ENGINE_* > your config.toml > the project's codeward.toml > defaults); the [eval] sampling keys do "
    "not apply")
