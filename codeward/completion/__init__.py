"""The completion pipeline both faces share, in data-flow order: types, text positions, context, snippets, mode,
prompt, engine call, postprocess, safety screening."""
